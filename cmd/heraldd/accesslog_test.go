package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is a log sink that server goroutines write while the test
// waits.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLogProjectIsServedProject: under --auth token the access log
// names the project a request was served under — a pinned token's own,
// whatever X-Project-ID claims — and no project for a request refused
// before it had one.
func TestAccessLogProjectIsServedProject(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("pinned tenant\n"), 0o600))
	env := map[string]string{"HERALD_TOKEN": "free"}
	args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "h.db"), "--log-format", "json",
		"--auth", "token", "--token-file", tokens}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, logs, func(a net.Addr) { addrs <- a })
	}()
	base := "http://" + (<-addrs).String()

	// X-Project-ID is "p" on every request (see request).
	require.Equal(t, http.StatusCreated, request(t, "PUT", base+"/v2/queues/pinned", "", "X-Auth-Token", "pinned").StatusCode)
	require.Equal(t, http.StatusCreated, request(t, "PUT", base+"/v2/queues/free", "", "X-Auth-Token", "free").StatusCode)
	require.Equal(t, http.StatusUnauthorized, request(t, "PUT", base+"/v2/queues/refused", "", "X-Auth-Token", "wrong").StatusCode)
	require.Equal(t, http.StatusMultipleChoices, request(t, "GET", base+"/", "").StatusCode)
	cancel()
	require.NoError(t, <-done)
	http.DefaultClient.CloseIdleConnections()

	projects := map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader([]byte(logs.String())))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line %s", sc.Text())
		if m["msg"] == "request" {
			projects[m["path"].(string)] = m["project"]
		}
	}
	require.Equal(t, map[string]any{
		"/v2/queues/pinned":  "tenant",
		"/v2/queues/free":    "p",
		"/v2/queues/refused": "",
		"/":                  "",
	}, projects)
}
