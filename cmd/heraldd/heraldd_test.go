package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const clientID = "3cdbd9e2-1b9a-4b4b-9e0e-6f1f9f1d0a01"

func request(t *testing.T, method, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Client-ID", clientID)
	req.Header.Set("X-Project-ID", "p")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp
}

// TestBinary builds heraldd, runs it on a temp bolt file and a free port,
// serves a request, and checks that SIGTERM makes it exit cleanly — and
// that the message survives a restart.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "heraldd")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	data := filepath.Join(dir, "h.db")

	help, err := exec.Command(bin, "-h").CombinedOutput()
	require.NoError(t, err, "heraldd -h exits 0: %s", help) // it said "flag: help requested" and exited 1
	require.Contains(t, string(help), "-listen string  ($HERALD_LISTEN)")
	require.Contains(t, string(help), "$HERALD_TOKEN")

	start := func() (*exec.Cmd, string, <-chan map[string]any) {
		cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--log-format", "json")
		cmd.Env = append(os.Environ(), "HERALD_DATA="+data)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := make(chan map[string]any, 100)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					lines <- m
				}
			}
		}()
		for m := range lines {
			if m["msg"] == "heraldd listening" {
				return cmd, "http://" + m["addr"].(string), lines
			}
		}
		require.FailNow(t, "heraldd exited before listening")
		return nil, "", nil
	}
	stop := func(cmd *exec.Cmd, lines <-chan map[string]any) []string {
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		var msgs []string
		for m := range lines {
			msgs = append(msgs, m["msg"].(string))
		}
		require.NoError(t, cmd.Wait())
		require.Equal(t, 0, cmd.ProcessState.ExitCode())
		return msgs
	}

	cmd, base, lines := start()
	require.Equal(t, http.StatusCreated, request(t, "PUT", base+"/v2/queues/q", "").StatusCode)
	resp := request(t, "POST", base+"/v2/queues/q/messages", `{"messages":[{"body":"durable"}]}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Equal(t, "request", (<-lines)["msg"])
	msgs := stop(cmd, lines)
	require.Contains(t, msgs, "heraldd stopped")

	cmd, base, lines = start()
	require.Equal(t, http.StatusOK, request(t, "GET", base+loc, "").StatusCode)
	stop(cmd, lines)
}

// TestGracefulShutdown: a request in flight when shutdown begins is
// finished and answered; then run returns nil.
func TestGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan struct{}, 1)
	testWrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			h.ServeHTTP(w, r)
		})
	}
	defer func() { testWrap = nil }()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "h.db"), "--access-log=false"}
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, &logs, func(a net.Addr) { addrs <- a })
	}()
	addr := (<-addrs).String()

	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", "http://"+addr+"/v2/queues/q/messages", pr)
	require.NoError(t, err)
	req.Header.Set("Client-ID", clientID)
	req.Header.Set("X-Project-ID", "p")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		answered <- resp
	}()
	_, err = pw.Write([]byte(`{"messages":[{"body":`))
	require.NoError(t, err)
	<-entered // the request is in flight

	cancel()
	for { // shutdown has begun once the listener refuses connections
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		_ = c.Close()
	}
	_, err = pw.Write([]byte(`"late"}]}`))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	resp := <-answered
	require.NotNil(t, resp)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NoError(t, <-done)
	require.Contains(t, logs.String(), "heraldd stopped")
	http.DefaultClient.CloseIdleConnections()
}

func TestConfig(t *testing.T) {
	env := map[string]string{"HERALD_LISTEN": "127.0.0.1:1", "HERALD_DENY_PRIVATE_WEBHOOKS": "true", "HERALD_TOKEN": "t"}
	c, err := parseConfig([]string{"--listen", "127.0.0.1:2", "--auth", "token"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2", c.listen) // the flag wins
	require.True(t, c.denyPrivate)
	tokens, err := c.tokens()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"t": ""}, tokens)

	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("# comment\nabc proj\ndef\n"), 0o600))
	c, err = parseConfig([]string{"--auth", "token", "--token-file", file}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	tokens, err = c.tokens()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"abc": "proj", "def": ""}, tokens)

	for _, bad := range [][]string{{"--auth", "kerberos"}, {"--max-per-page", "0"}, {"extra"}, {"--log-format", "xml"}} {
		_, err := parseConfig(bad, func(string) string { return "" }, io.Discard)
		require.Error(t, err, "%v", bad)
	}
	_, err = parseConfig(nil, func(k string) string { return map[string]string{"HERALD_MAX_PER_PAGE": "x"}[k] }, io.Discard)
	require.Error(t, err)
	c, err = parseConfig([]string{"--auth", "token"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	_, err = c.tokens()
	require.Error(t, err)
}

// --deny-private-webhooks refuses a subscriber whose host is a literal
// address that is not public when subscribing (400), and leaves names to
// the dial; post_headers with CR or LF are refused with or without it.
func TestDenyPrivateWebhooksAtSubscribe(t *testing.T) {
	dir := t.TempDir()
	deny := serve(t, "--data", filepath.Join(dir, "d.db"), "--deny-private-webhooks")
	open := serve(t, "--data", filepath.Join(dir, "o.db"))
	sub := func(url, subscriber, options string) int {
		t.Helper()
		return request(t, "POST", url+"/v2/queues/q/subscriptions",
			`{"subscriber":"`+subscriber+`","ttl":600,"options":`+options+`}`).StatusCode
	}
	for _, u := range []string{"http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/"} {
		require.Equal(t, http.StatusBadRequest, sub(deny, u, `{}`), u)
		require.Equal(t, http.StatusCreated, sub(open, u, `{}`), u)
	}
	require.Equal(t, http.StatusCreated, sub(deny, "http://localhost:9/", `{}`))
	for _, url := range []string{deny, open} {
		require.Equal(t, http.StatusBadRequest, sub(url, "http://example.com/", `{"post_headers":{"X-A":"v\r\nX-B: 1"}}`))
		require.Equal(t, http.StatusCreated, sub(url, "http://example.com/", `{"post_headers":{"X-A":"v"}}`))
	}
}
