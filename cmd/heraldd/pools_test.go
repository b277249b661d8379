package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve runs heraldd in-process with args until the test ends and
// returns its base URL.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	return serveSub(t, args...).url
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
		return request(t, method, url+path, body, "X-Roles", "admin").StatusCode
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

// --pools keeps the pools made over HTTP beside the data file: after a
// restart they are listed again with their flavor link, and a queue on
// one of them still has its messages.
func TestPooledRestart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--data", filepath.Join(dir, "main.db"), "--pools", "--admin"}
	code := func(url, method, path, body string) int {
		t.Helper()
		return request(t, method, url+path, body, "X-Roles", "admin").StatusCode
	}
	first := serveSub(t, args...)
	require.Equal(t, http.StatusCreated, code(first.url, "PUT", "/v2/pools/b", `{"uri":"bolt://`+filepath.Join(dir, "b.db")+`","weight":1,"flavor":"durable"}`))
	require.Equal(t, http.StatusCreated, code(first.url, "PUT", "/v2/flavors/durable", `{"pool_list":["b"]}`))
	require.Equal(t, http.StatusCreated, code(first.url, "PUT", "/v2/queues/dq", `{"_flavor":"durable"}`))
	require.Equal(t, http.StatusCreated, code(first.url, "POST", "/v2/queues/dq/messages", `{"messages":[{"body":1,"ttl":600}]}`))
	first.stop()

	url := serve(t, args...)
	var pool struct {
		URI    string  `json:"uri"`
		Flavor *string `json:"flavor"`
	}
	getJSON(t, url+"/v2/pools/b", &pool)
	require.Equal(t, "bolt://"+filepath.Join(dir, "b.db"), pool.URI)
	require.Equal(t, "durable", *pool.Flavor)
	var stats struct {
		Messages struct {
			Total int `json:"total"`
		} `json:"messages"`
	}
	getJSON(t, url+"/v2/queues/dq/stats", &stats)
	require.Equal(t, 1, stats.Messages.Total, "the queue is on its pool, with its message")
}

type running struct {
	url  string
	stop func()
}

// serveSub runs heraldd like serve, but the caller stops it.
func serveSub(t *testing.T, args ...string) running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--access-log=false"}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, func(a net.Addr) { addrs <- a })
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
			http.DefaultClient.CloseIdleConnections()
		}
	}
	t.Cleanup(stop)
	select {
	case a := <-addrs:
		return running{"http://" + a.String(), stop}
	case err := <-done:
		require.NoError(t, err)
		return running{}
	}
}

// getJSON GETs url and decodes its 200 answer into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Client-ID", clientID)
	req.Header.Set("X-Project-ID", "p")
	req.Header.Set("X-Roles", "admin")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

// Admin callers name pool files: a bolt:// path outside --pool-dir (by
// default the data file's directory), or reaching out through a symlink,
// is refused before anything is created.
func TestPoolFilesStayInPoolDir(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	url := serve(t, "--data", filepath.Join(dir, "main.db"), "--pools", "--admin")
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	for _, p := range []string{filepath.Join(outside, "x.db"), filepath.Join(dir, "link", "y.db"), filepath.Join(dir, "..", filepath.Base(outside), "z.db")} {
		require.Equal(t, http.StatusBadRequest, request(t, "PUT", url+"/v2/pools/p", `{"uri":"bolt://`+p+`","weight":1}`, "X-Roles", "admin").StatusCode, p)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing was created outside")
	require.Equal(t, http.StatusCreated, request(t, "PUT", url+"/v2/pools/p", `{"uri":"bolt://`+filepath.Join(dir, "ok.db")+`","weight":1}`, "X-Roles", "admin").StatusCode)
}

// Under --auth token the admin routes answer only the admin tokens.
func TestAdminRoutesNeedTheAdminToken(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HERALD_TOKEN": "user-token", "HERALD_ADMIN_TOKEN": "admin-token"}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--access-log=false", "--data", filepath.Join(dir, "m.db"), "--pools", "--admin", "--auth", "token"},
			func(k string) string { return env[k] }, io.Discard, func(a net.Addr) { addrs <- a })
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()
	url := "http://" + (<-addrs).String()
	require.Equal(t, http.StatusForbidden, request(t, "GET", url+"/v2/pools", "", "Authorization", "Bearer user-token").StatusCode)
	require.Equal(t, http.StatusForbidden, request(t, "GET", url+"/v2/health", "", "Authorization", "Bearer user-token").StatusCode)
	require.Equal(t, http.StatusOK, request(t, "GET", url+"/v2/pools", "", "Authorization", "Bearer admin-token").StatusCode)
	require.Equal(t, http.StatusUnauthorized, request(t, "GET", url+"/v2/pools", "").StatusCode)
}

// Under noauth (the default) the admin routes answer only requests whose
// X-Roles header lists admin, as Zaqar's noauth mode does; the others get
// Zaqar's 403 and change nothing.
func TestAdminRoutesNeedTheAdminRole(t *testing.T) {
	dir := t.TempDir()
	url := serve(t, "--data", filepath.Join(dir, "m.db"), "--pools", "--admin")
	pool := `{"uri":"bolt://` + filepath.Join(dir, "p.db") + `","weight":1}`
	for _, roles := range []string{"", "member", "administrator"} {
		for _, r := range [][3]string{{"GET", "/v2/health", ""}, {"GET", "/v2/pools", ""}, {"PUT", "/v2/pools/p", pool},
			{"GET", "/v2/flavors", ""}, {"PUT", "/v2/flavors/f", `{"pool_list":["default"]}`}} {
			resp := request(t, r[0], url+r[1], r[2], "X-Roles", roles)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "X-Roles %q: %s %s", roles, r[0], r[1])
		}
	}
	_, err := os.Stat(filepath.Join(dir, "p.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "no pool file was made")
	require.Equal(t, http.StatusOK, request(t, "GET", url+"/v2/health", "", "X-Roles", "member,admin").StatusCode)
	require.Equal(t, http.StatusCreated, request(t, "PUT", url+"/v2/pools/p", pool, "X-Roles", "admin").StatusCode)
	var pools struct {
		Pools []struct{ Name string } `json:"pools"`
	}
	getJSON(t, url+"/v2/pools", &pools)
	require.Len(t, pools.Pools, 1)
}

// Configurations that would leave a server more open than its operator
// thinks are refused.
func TestUnsafeConfigsRefused(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := parseConfig([]string{"--token-file", "/dev/null"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "--auth token")
	_, err = parseConfig(nil, env(map[string]string{"HERALD_TOKEN": "t"}), io.Discard)
	require.ErrorContains(t, err, "--auth token")
	_, err = parseConfig([]string{"--auth", "token", "--admin"}, env(map[string]string{"HERALD_TOKEN": "t"}), io.Discard)
	require.ErrorContains(t, err, "HERALD_ADMIN_TOKEN")
}
