package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve runs heraldd in-process with args until the test ends and
// returns its base URL.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--access-log=false"}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, func(a net.Addr) { addrs <- a })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		http.DefaultClient.CloseIdleConnections()
	})
	select {
	case a := <-addrs:
		return "http://" + a.String()
	case err := <-done:
		done <- err
		require.NoError(t, err)
		return ""
	}
}

// --pools --admin: pools on bolt files and memory stores come and go over
// HTTP; a flavored queue lands on its pool; the data file is refused as a
// pool, and so are URIs heraldd cannot open.
func TestPooled(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "main.db")
	url := serve(t, "--data", data, "--pools", "--admin", "--memory-pool-schemes", "mongodb")
	code := func(method, path, body string) int {
		t.Helper()
		return request(t, method, url+path, body).StatusCode
	}
	require.Equal(t, http.StatusCreated, code("PUT", "/v2/queues/plain", ""))
	require.Equal(t, http.StatusCreated, code("PUT", "/v2/pools/b", `{"uri":"bolt://`+filepath.Join(dir, "b.db")+`","weight":1,"flavor":"durable"}`))
	require.Equal(t, http.StatusCreated, code("PUT", "/v2/pools/m", `{"uri":"memory:","weight":1}`))
	require.Equal(t, http.StatusCreated, code("PUT", "/v2/pools/mongo", `{"uri":"mongodb://127.0.0.1:27017","weight":1}`))
	require.Equal(t, http.StatusConflict, code("PUT", "/v2/pools/m2", `{"uri":"memory:","weight":1}`))
	require.Equal(t, http.StatusConflict, code("PUT", "/v2/pools/self", `{"uri":"bolt://`+data+`","weight":1}`))
	require.Equal(t, http.StatusBadRequest, code("PUT", "/v2/pools/rel", `{"uri":"bolt://relative.db","weight":1}`))
	require.Equal(t, http.StatusBadRequest, code("PUT", "/v2/pools/r", `{"uri":"redis://127.0.0.1:6379","weight":1}`))
	require.Equal(t, http.StatusConflict, code("PUT", "/v2/pools/default", `{"uri":"memory:d","weight":1}`))

	require.Equal(t, http.StatusCreated, code("PUT", "/v2/flavors/durable", `{"pool_list":["b"]}`))
	require.Equal(t, http.StatusCreated, code("PUT", "/v2/queues/dq", `{"_flavor":"durable"}`))
	require.Equal(t, http.StatusCreated, code("POST", "/v2/queues/dq/messages", `{"messages":[{"body":1,"ttl":60}]}`))
	require.Equal(t, http.StatusForbidden, code("DELETE", "/v2/pools/b", ""))
	require.Equal(t, http.StatusNoContent, code("DELETE", "/v2/flavors/durable", ""))
	require.Equal(t, http.StatusForbidden, code("DELETE", "/v2/pools/b", ""), "it holds dq")
	require.Equal(t, http.StatusNoContent, code("DELETE", "/v2/queues/dq", ""))
	for _, p := range []string{"b", "m", "mongo"} {
		require.Equal(t, http.StatusNoContent, code("DELETE", "/v2/pools/"+p, ""))
	}
	require.Equal(t, http.StatusOK, code("GET", "/v2/queues/plain/stats", ""))
}

// Without --pools heraldd serves one bolt file and no pools routes.
func TestNotPooled(t *testing.T) {
	url := serve(t, "--data", filepath.Join(t.TempDir(), "h.db"), "--admin")
	require.Equal(t, http.StatusNotFound, request(t, "GET", url+"/v2/pools", "").StatusCode)
	require.Equal(t, http.StatusNotFound, request(t, "GET", url+"/v2/flavors", "").StatusCode)
	_, err := parseConfig([]string{"--memory-pool-schemes", "mongodb"}, func(string) string { return "" }, io.Discard)
	require.Error(t, err, "--memory-pool-schemes needs --pools")
}
