package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// ioBound bounds every read of these tests, so a server that wrongly
// keeps a client waiting fails the test instead of hanging it. Nothing
// waits for it to pass.
const ioBound = 10 * time.Second

// keepAlive is one client connection that sends HTTP/1.1 requests and
// keeps the connection open between them, as clients' pools do.
type keepAlive struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &keepAlive{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes a request for path without waiting for the answer.
func (k *keepAlive) send(path string) {
	k.t.Helper()
	_, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: heraldd\r\nClient-ID: %s\r\nX-Project-ID: p\r\n\r\n", path, clientID)
	require.NoError(k.t, err)
}

// answer reads the answer to the request sent last and returns its status.
func (k *keepAlive) answer() int {
	k.t.Helper()
	require.NoError(k.t, k.c.SetReadDeadline(time.Now().Add(ioBound)))
	resp, err := http.ReadResponse(k.r, nil)
	require.NoError(k.t, err, "no answer: the server kept this client out")
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(k.t, err)
	require.NoError(k.t, resp.Body.Close())
	return resp.StatusCode
}

func (k *keepAlive) get(path string) int {
	k.t.Helper()
	k.send(path)
	return k.answer()
}

// requireClosedByServer checks that the server has closed the connection.
func (k *keepAlive) requireClosedByServer() {
	k.t.Helper()
	require.NoError(k.t, k.c.SetReadDeadline(time.Now().Add(ioBound)))
	_, err := k.r.ReadByte()
	require.Error(k.t, err)
	require.False(k.t, errors.Is(err, context.DeadlineExceeded) || isTimeout(err), "the connection is still open: %v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// guarded serves h on 127.0.0.1 behind a connGuard of max connections,
// with an idle timeout far longer than any test: only the guard may close
// an idle connection.
func guarded(t *testing.T, max int, h http.Handler) (*watchedGuard, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &watchedGuard{connGuard: newConnGuard(max), changes: make(chan struct{}, 1)}
	g.changed = func() {
		select {
		case g.changes <- struct{}{}:
		default:
		}
	}
	srv := &http.Server{Handler: h, IdleTimeout: time.Hour, ConnState: g.connState}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(g.listen(ln)) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
	return g, ln.Addr().String()
}

// watchedGuard is a connGuard that tells a test when a connection
// changes state.
type watchedGuard struct {
	*connGuard
	changes chan struct{}
}

// waitIdle waits until the guard holds n idle connections: the server
// marks a connection idle after its client has read the answer, so a test
// that counts on which connection is idle longest waits for it.
func (g *watchedGuard) waitIdle(t *testing.T, n int) {
	t.Helper()
	bound := time.After(ioBound)
	for {
		g.mu.Lock()
		got := g.idle.Len()
		g.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-g.changes:
		case <-bound:
			t.Fatalf("the guard holds %d idle connections, want %d", got, n)
		}
	}
}

func (g *connGuard) peakOpen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

var ok200 = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

// The failure this prevents: a full set of idle keep-alive connections
// held every new client out until the idle timeout. With the cap's worth
// of idle connections open, new clients are served at once, one after
// another, the longest-idle connection closed for each; the server never
// holds more than the cap.
func TestIdleConnectionsDoNotLockOut(t *testing.T) {
	const max = 4
	g, addr := guarded(t, max, ok200)
	var idle []*keepAlive
	for i := range max - 1 {
		k := dialKeepAlive(t, addr)
		require.Equal(t, http.StatusOK, k.get("/"))
		idle = append(idle, k)
		g.waitIdle(t, i+1) // so the idle order is the dial order
	}
	for i := range 3*max + 1 {
		k := dialKeepAlive(t, addr)
		require.Equal(t, http.StatusOK, k.get("/"), "new client %d", i)
		idle = append(idle, k)
		g.waitIdle(t, max-1) // one was closed for it
	}
	require.LessOrEqual(t, g.peakOpen(), max)
	idle[0].requireClosedByServer() // the longest idle went first
	last := idle[len(idle)-1]
	require.Equal(t, http.StatusOK, last.get("/"), "the newest keeps its connection")
}

// cap+1 with every connection busy: the next client is not accepted (it
// waits in the kernel's accept queue) until a request ends; then it is
// served, and the connection that went idle is closed for it.
func TestBusyCapMakesTheNextClientWait(t *testing.T) {
	const max = 2
	entered, release := make(chan struct{}), make(chan struct{})
	g, addr := guarded(t, max, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	busy := make([]*keepAlive, max)
	for i := range busy {
		busy[i] = dialKeepAlive(t, addr)
		busy[i].send("/block")
		<-entered
	}
	next := dialKeepAlive(t, addr) // connects: the kernel accepts for the server
	next.send("/")
	release <- struct{}{} // the first busy request ends
	require.Equal(t, http.StatusOK, busy[0].answer())
	require.Equal(t, http.StatusOK, next.answer(), "served once a slot is free")
	require.Equal(t, max, g.peakOpen(), "never more than the cap open")
	busy[0].requireClosedByServer() // idle at the cap: closed for the waiting client
	release <- struct{}{}
	require.Equal(t, http.StatusOK, busy[1].answer())
}

func TestMaxConnsConfig(t *testing.T) {
	require.Equal(t, 1024, defaultMaxConns(0), "limit unknown")
	require.Equal(t, 1024, defaultMaxConns(1<<20))
	require.Equal(t, 512, defaultMaxConns(1024), "half a low limit")
	require.NoError(t, checkMaxConns(1024-connsReserve, 1024))
	require.ErrorContains(t, checkMaxConns(1024-connsReserve+1, 1024), "open-file limit is 1024")
	require.Error(t, checkMaxConns(-1, 0))
	require.NoError(t, checkMaxConns(1<<20, 0), "no limit known: no check")

	env := map[string]string{"HERALD_MAX_CONNS": "7", "HERALD_IDLE_TIMEOUT": "5s",
		"HERALD_MAX_QUEUES_PER_PROJECT": "3", "HERALD_MAX_SUBSCRIPTIONS_PER_QUEUE": "2"}
	c, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 7, c.maxConns)
	require.Equal(t, 5*time.Second, c.idleTimeout)
	require.Equal(t, 3, c.maxQueues)
	require.Equal(t, 2, c.maxSubscriptions)
	c, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, defaultMaxConns(fdLimit()), c.maxConns)
	require.Equal(t, 30*time.Second, c.idleTimeout)
	require.Equal(t, 10_000, c.maxQueues)
	require.Equal(t, 100, c.maxSubscriptions)
	for _, bad := range [][]string{{"--max-conns", "-1"}, {"--idle-timeout", "0s"}, {"--max-queues-per-project", "-1"}, {"--max-subscriptions-per-queue", "-2"}} {
		_, err := parseConfig(bad, func(string) string { return "" }, io.Discard)
		require.Error(t, err, "%v", bad)
	}
	if lim := fdLimit(); lim > 0 && lim < 1<<40 {
		_, err := parseConfig([]string{"--max-conns", fmt.Sprint(lim)}, func(string) string { return "" }, io.Discard)
		require.ErrorContains(t, err, "open-file limit")
	}
}

// heraldd itself: with --max-conns idle keep-alive connections open, a new
// client is served, and the limits flags reach the Service (400 past
// --max-queues-per-project).
func TestHeralddConnectionCap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "h.db"), "--access-log=false",
		"--max-conns", "3", "--idle-timeout", "1h", "--max-queues-per-project", "2"}
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, func(a net.Addr) { addrs <- a })
	}()
	addr := (<-addrs).String()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	var conns []*keepAlive
	for i := range 3 {
		k := dialKeepAlive(t, addr)
		require.Equal(t, http.StatusOK, k.get(fmt.Sprintf("/v2/queues/q%d/stats", i)))
		conns = append(conns, k)
	}
	put := func(k *keepAlive, name string) int {
		_, err := fmt.Fprintf(k.c, "PUT /v2/queues/%s HTTP/1.1\r\nHost: heraldd\r\nClient-ID: %s\r\nX-Project-ID: p\r\nContent-Length: 2\r\n\r\n{}", name, clientID)
		require.NoError(t, err)
		return k.answer()
	}
	k := dialKeepAlive(t, addr)
	require.Equal(t, http.StatusCreated, put(k, "a"), "a new client past three idle ones")
	require.Equal(t, http.StatusCreated, put(dialKeepAlive(t, addr), "b"))
	require.Equal(t, http.StatusBadRequest, put(dialKeepAlive(t, addr), "c"), "--max-queues-per-project 2")
	conns[0].requireClosedByServer()
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"))
}

// pipeListener is a net.Listener of in-memory connections, so a server
// can run inside a synctest bubble, where "every goroutine is blocked"
// tells that the server is not going to accept a connection.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn, 16), done: make(chan struct{})}
}

// dial connects; like the kernel's accept queue, it does not wait for the
// server to accept.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { close(l.done); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func (g *connGuard) openNow() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// The cap itself: with the cap's worth of connections busy, the next one
// is not accepted at all until a request ends (synctest.Wait: the server
// is blocked, not merely slow); then it is, and is served.
func TestCapHoldsTheNextConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max = 2
		entered, release := make(chan struct{}), make(chan struct{})
		ln := newPipeListener()
		g := newConnGuard(max)
		srv := &http.Server{IdleTimeout: time.Hour, ConnState: g.connState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				entered <- struct{}{}
				<-release
			}
			w.WriteHeader(http.StatusOK)
		})}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(g.listen(ln)) }()

		request := func(c net.Conn, path string) <-chan int {
			status := make(chan int, 1)
			go func() {
				defer close(status)
				if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: heraldd\r\n\r\n", path); err != nil {
					return
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return
				}
				_ = resp.Body.Close()
				status <- resp.StatusCode
			}()
			return status
		}
		var busy []<-chan int
		for range max {
			busy = append(busy, request(ln.dial(), "/block"))
			<-entered
		}
		next := request(ln.dial(), "/")
		synctest.Wait()
		require.Equal(t, max, g.openNow(), "the next connection is not accepted while the cap is busy")
		require.Empty(t, next, "no answer while the cap is busy")

		release <- struct{}{}
		require.Equal(t, http.StatusOK, <-busy[0])
		require.Equal(t, http.StatusOK, <-next, "accepted and served once a request ended")
		require.Equal(t, max, g.peakOpen())
		release <- struct{}{}
		require.Equal(t, http.StatusOK, <-busy[1])
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-served, http.ErrServerClosed)
	})
}

// L4: at the cap a connection is not kept alive, and the client is told
// so. The failure this prevents: the guard closed a connection as it
// turned idle at the cap, after an answer that promised keep-alive, so a
// request the client had already sent on it (pipelined, or sent as soon
// as the answer arrived) was dropped unanswered; a client cannot retry a
// POST lost that way. With --max-conns 1 every connection is at the cap.
func TestAtCapAnswersSayClose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "h.db"), "--access-log=false",
		"--max-conns", "1", "--idle-timeout", "1h"}
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, func(a net.Addr) { addrs <- a })
	}()
	addr := (<-addrs).String()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	k := dialKeepAlive(t, addr)
	k.send("/v2/queues/a/stats")
	k.send("/v2/queues/b/stats") // pipelined behind the first
	require.NoError(t, k.c.SetReadDeadline(time.Now().Add(ioBound)))
	resp, err := http.ReadResponse(k.r, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	if resp.Close {
		return // told: the client sends the second request again elsewhere
	}
	second, err := http.ReadResponse(k.r, nil)
	require.NoError(t, err, "the first answer kept the connection alive, so the second request must be answered")
	require.NoError(t, second.Body.Close())
}

// L4: the default --max-conns is one heraldd accepts. The failure this
// prevents: under an open-file limit below 128 the default, half the
// limit, left fewer than connsReserve descriptors for heraldd itself, so
// heraldd refused to start without --max-conns.
func TestDefaultMaxConnsPassesItsCheck(t *testing.T) {
	for _, fd := range []uint64{0, 66, 100, 127, 128, 129, 200, 1024, 2048, 1 << 20} {
		n := defaultMaxConns(fd)
		require.GreaterOrEqual(t, n, 1, "open-file limit %d", fd)
		require.NoError(t, checkMaxConns(n, fd), "open-file limit %d: default %d", fd, n)
	}
}
