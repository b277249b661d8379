package main

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/netutil"
)

// connsReserve is how many file descriptors --max-conns leaves to the rest
// of heraldd: the store's files, outgoing webhook and SMTP connections (at
// most NotifyOptions.Concurrency at once), the log.
const connsReserve = 64

// defaultMaxConns is --max-conns when it is 0: 1,024, or half the open-file
// limit when that is lower (the limit is 0 when unknown), and never more
// than checkMaxConns accepts: under a limit below 128, half would leave
// heraldd fewer than connsReserve descriptors and it would refuse its own
// default.
func defaultMaxConns(fdLimit uint64) int {
	if fdLimit > 0 && fdLimit/2 < 1024 {
		n := min(fdLimit/2, fdLimit-min(fdLimit, connsReserve))
		return max(int(n), 1)
	}
	return 1024
}

// checkMaxConns refuses a cap that would let client connections take the
// file descriptors heraldd needs itself: that is how ~1,000 idle
// connections locked every new client out.
func checkMaxConns(n int, fdLimit uint64) error {
	if n < 1 {
		return fmt.Errorf("--max-conns %d: want at least 1", n)
	}
	if fdLimit > 0 && uint64(n)+connsReserve > fdLimit {
		return fmt.Errorf("--max-conns %d: the open-file limit is %d and heraldd keeps %d for itself; lower --max-conns or raise the limit (ulimit -n)", n, fdLimit, connsReserve)
	}
	return nil
}

// connGuard caps the connections an http.Server holds open and keeps idle
// keep-alive connections from locking new clients out. The cap itself is
// netutil.LimitListener: at the cap, Accept waits for a connection to
// close, so a new client waits in the kernel's accept queue instead of
// costing a file descriptor. But http.Server never closes an idle
// connection for a waiting client, only at IdleTimeout, so a full set of
// idle ones would hold everyone else out for that long. connGuard, hooked
// to Server.ConnState, closes them instead: once the cap is reached it
// closes the connection idle longest, and a connection that turns idle
// while the cap is reached is closed at once (keep-alive is off while
// full, and handler says so in the answer). So a slot is free for the
// next client whenever any connection is idle, and while all of them are
// busy the next client waits only for one request to finish.
type connGuard struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]*list.Element // open connections; the value's element is in idle when idle
	idle  *list.List                 // of net.Conn, longest idle first
	// peak is the most connections ever open at once, for tests.
	peak int
	// changed, if set (tests), is called after every state change: the
	// server reports a connection idle on its own goroutine, after the
	// client may already have read the answer.
	changed func()
}

func newConnGuard(max int) *connGuard {
	return &connGuard{max: max, conns: make(map[net.Conn]*list.Element), idle: list.New()}
}

// listen returns ln capped at g.max open connections.
func (g *connGuard) listen(ln net.Listener) net.Listener { return netutil.LimitListener(ln, g.max) }

// connState is the Server.ConnState hook.
func (g *connGuard) connState(c net.Conn, s http.ConnState) {
	var closing net.Conn
	g.mu.Lock()
	switch s {
	case http.StateNew:
		g.conns[c] = nil
		g.peak = max(g.peak, len(g.conns))
		if len(g.conns) >= g.max {
			closing = g.evictLocked()
		}
	case http.StateIdle:
		if _, ok := g.conns[c]; !ok {
			break
		}
		if len(g.conns) >= g.max {
			g.dropLocked(c)
			closing = c
			break
		}
		g.conns[c] = g.idle.PushBack(c)
	case http.StateActive:
		if e := g.conns[c]; e != nil {
			g.idle.Remove(e)
			g.conns[c] = nil
		}
	case http.StateClosed, http.StateHijacked:
		g.dropLocked(c)
	}
	g.mu.Unlock()
	if closing != nil {
		// Closing releases its LimitListener slot; the server's goroutine
		// for it then ends on the read error (StateClosed, ignored).
		_ = closing.Close()
	}
	if g.changed != nil {
		g.changed()
	}
}

// handler wraps h so that an answer written while the guard is at its
// cap says "Connection: close": the server then closes the connection
// after it, instead of the guard closing it as it turns idle after an
// answer that promised keep-alive. A client that had already sent its
// next request on that connection (pipelined, or as soon as the answer
// arrived) would lose it unanswered, and cannot retry a lost POST; told
// to close, it sends the request again on a new connection.
func (g *connGuard) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &closeAtCap{ResponseWriter: w, g: g}
		h.ServeHTTP(cw, r)
		cw.mark() // an answer the server writes after the handler
	})
}

// full reports whether the guard holds its cap of connections.
func (g *connGuard) full() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns) >= g.max
}

// closeAtCap is the ResponseWriter of handler.
type closeAtCap struct {
	http.ResponseWriter
	g      *connGuard
	marked bool
}

// mark sets "Connection: close" before the answer's header goes out, if
// the guard is at its cap then.
func (w *closeAtCap) mark() {
	if w.marked {
		return
	}
	w.marked = true
	if w.g.full() {
		w.Header().Set("Connection", "close")
	}
}

func (w *closeAtCap) WriteHeader(code int) {
	if code >= 200 { // 1xx answers are not the answer
		w.mark()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeAtCap) Write(b []byte) (int, error) {
	w.mark()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *closeAtCap) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// evictLocked forgets the connection idle longest and returns it to be
// closed, or nil if none is idle.
func (g *connGuard) evictLocked() net.Conn {
	e := g.idle.Front()
	if e == nil {
		return nil
	}
	c := e.Value.(net.Conn)
	g.dropLocked(c)
	return c
}

func (g *connGuard) dropLocked(c net.Conn) {
	if e := g.conns[c]; e != nil {
		g.idle.Remove(e)
	}
	delete(g.conns, c)
}
