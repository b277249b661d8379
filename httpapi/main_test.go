package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testProject = "smoke-project"
	testClient  = "3cdbd9e2-1b9a-4b4b-9e0e-6f1f9f1d0a01"
)

// newHandler returns the API over a fresh memory Service closed when the
// test ends.
func newHandler(t testing.TB, o httpapi.Options) (http.Handler, *herald.Service) {
	t.Helper()
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return httpapi.New(svc, o), svc
}

// client sends requests to a handler as one Zaqar client.
type client struct {
	t       testing.TB
	h       http.Handler
	headers map[string]string
}

func newClient(t testing.TB, o httpapi.Options) *client {
	h, _ := newHandler(t, o)
	return &client{t: t, h: h, headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject}}
}

// with returns a copy of c sending extra headers; an empty value removes a
// header.
func (c *client) with(kv ...string) *client {
	hs := map[string]string{}
	for k, v := range c.headers {
		hs[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		hs[kv[i]] = kv[i+1]
	}
	return &client{t: c.t, h: c.h, headers: hs}
}

// response is an answer with its body read.
type response struct {
	code   int
	header http.Header
	body   string
}

// json decodes the body, failing the test if it is not JSON.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &m), "body %q", r.body)
	return m
}

func (c *client) do(method, path, body string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for k, v := range c.headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	return response{code: w.Code, header: w.Header(), body: w.Body.String()}
}

// expect sends a request and checks its status.
func (c *client) expect(code int, method, path, body string) response {
	c.t.Helper()
	r := c.do(method, path, body)
	require.Equal(c.t, code, r.code, "%s %s: %s", method, path, r.body)
	return r
}

// errorTitle checks that r is a Zaqar error and returns its title.
func errorTitle(t testing.TB, r response) string {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	m := r.json(t)
	require.Contains(t, m, "description")
	title, _ := m["title"].(string)
	return title
}
