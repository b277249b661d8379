package load_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/internal/load"
	"github.com/heraldmq/herald/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunWithToken drives a server with token auth: without the token the
// run stops at the first request (401); with it every message is moved,
// in the project the token is pinned to.
func TestRunWithToken(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	auth := httpapi.TokenAuth(map[string]string{"s3cret": "pinned"})
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{Auth: auth}))
	defer srv.Close()
	o := load.Options{URL: srv.URL, Producers: 2, Consumers: 2, Messages: 20, Batch: 5}

	_, err = load.Run(t.Context(), o)
	require.ErrorContains(t, err, "401")

	o.Token = "s3cret"
	r, err := load.Run(t.Context(), o)
	require.NoError(t, err)
	require.EqualValues(t, 20, r.Posted)
	require.EqualValues(t, 20, r.Deleted)
	qs, err := svc.Project("pinned").ListQueues(t.Context(), herald.ListQueuesOptions{Limit: 10})
	require.NoError(t, err)
	require.Len(t, qs, 1)
	require.Equal(t, "load", qs[0].Name)
}

// newServer serves the API on a memory store through wrap (nil: none),
// counting the connections clients open, and configured by setup before it
// starts.
func newServer(t *testing.T, wrap func(http.Handler) http.Handler, setup func(*http.Server)) (*httptest.Server, *atomic.Int64) {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	var h http.Handler = httpapi.New(svc, httpapi.Options{})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	var dials atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	if setup != nil {
		setup(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &dials
}

// TestRunFullBatches moves messages in full claims of ten, through a server
// that closes every connection after one answer (Connection: close), so
// every request dials again; a trailing slash on the URL is ignored.
func TestRunFullBatches(t *testing.T) {
	srv, dials := newServer(t, nil, func(s *http.Server) { s.SetKeepAlivesEnabled(false) })

	r, err := load.Run(t.Context(), load.Options{URL: srv.URL + "/", Producers: 1, Consumers: 1, Messages: 40, PostBatch: 10})
	require.NoError(t, err)
	require.EqualValues(t, 40, r.Deleted)
	require.EqualValues(t, 4, r.Posts)
	require.EqualValues(t, 4, r.Deletes, "every claim took a whole POST's ten")
	require.Equal(t, 1+r.Posts+r.Claims+r.Deletes, dials.Load())
}

// chunked makes every answer chunked: it drops Content-Length and flushes
// after the first byte of the body.
type chunked struct{ http.ResponseWriter }

func (w chunked) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

func (w chunked) Write(b []byte) (int, error) {
	if len(b) < 2 {
		return w.ResponseWriter.Write(b)
	}
	n, err := w.ResponseWriter.Write(b[:1])
	if err != nil {
		return n, err
	}
	w.ResponseWriter.(http.Flusher).Flush()
	m, err := w.ResponseWriter.Write(b[1:])
	return n + m, err
}

// TestRunChunkedAnswers reads claims answered with chunked bodies on
// kept-alive connections: at most one per worker, plus the setup's. A
// worker dials at its first request, and one that finds its work all done
// by the others (a producer starting after the last POST went out, a
// consumer after the last delete) never dials: so "at most", and at least
// the setup's, one producer's and one consumer's.
func TestRunChunkedAnswers(t *testing.T) {
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(chunked{w}, r) })
	}
	srv, dials := newServer(t, wrap, nil)

	r, err := load.Run(t.Context(), load.Options{URL: srv.URL, Producers: 2, Consumers: 2, Messages: 40, PostBatch: 10})
	require.NoError(t, err)
	require.EqualValues(t, 40, r.Deleted)
	require.EqualValues(t, 4, r.Posts)
	// A connection per request would be 1+4+(≥4 claims)+(≥4 deletes).
	require.GreaterOrEqual(t, dials.Load(), int64(1+1+1))
	require.LessOrEqual(t, dials.Load(), int64(1+2+2))
}

// TestRunIdleClosed: a server that closes each kept-alive connection as
// soon as it goes idle, without saying so, costs a new connection per
// request, not the run.
func TestRunIdleClosed(t *testing.T) {
	srv, dials := newServer(t, nil, func(s *http.Server) {
		count := s.ConnState
		s.ConnState = func(c net.Conn, st http.ConnState) {
			count(c, st)
			if st == http.StateIdle {
				_ = c.Close()
			}
		}
	})

	r, err := load.Run(t.Context(), load.Options{URL: srv.URL, Producers: 1, Consumers: 1, Messages: 5})
	require.NoError(t, err)
	require.EqualValues(t, 5, r.Deleted)
	require.Greater(t, dials.Load(), int64(1+2))
}

// TestRunCancelled stops a run whose requests never get an answer: the
// cancellation unblocks every goroutine waiting on its connection.
func TestRunCancelled(t *testing.T) {
	arrived, stuck := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
			return
		}
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-stuck
	}))
	defer srv.Close()
	defer close(stuck)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := load.Run(ctx, load.Options{URL: srv.URL, Messages: 8})
	require.ErrorIs(t, err, context.Canceled)
}

// TestRunCancelledWhileIdle: a run cancelled while its consumers back off
// (nothing to claim) reports the cancellation, not success.
func TestRunCancelledWhileIdle(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || strings.HasSuffix(r.URL.Path, "/messages") {
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.WriteHeader(http.StatusNoContent) // claims: never anything
	}))
	closed := make(chan struct{}, 3)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	load.SetPause(t, func(ctx context.Context, _ time.Duration) bool {
		// Once the setup's and the producer's connections are closed,
		// only this consumer is left, and it is backing off.
		<-closed
		<-closed
		cancel()
		<-ctx.Done()
		return false
	})
	r, err := load.Run(ctx, load.Options{URL: srv.URL, Producers: 1, Consumers: 1, Messages: 1})
	require.ErrorIs(t, err, context.Canceled)
	require.EqualValues(t, 1, r.Posted)
	require.Zero(t, r.Deleted)
}

// TestRunBadOptions: options a run could not finish with are refused.
func TestRunBadOptions(t *testing.T) {
	for _, o := range []load.Options{
		{Messages: 15, PostBatch: 10},
		{Messages: 5, PostBatch: 10},
		{Producers: -1},
		{Batch: -1},
	} {
		o.URL = "http://127.0.0.1:1"
		_, err := load.Run(t.Context(), o)
		require.ErrorContains(t, err, "load: ", "%+v", o)
	}
}

// TestRunBadURL: the load generator speaks plain HTTP only.
func TestRunBadURL(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1:1", "ftp://127.0.0.1:1", "127.0.0.1:8888", "http://", "http:///v2",
		"http://[::1", "http://u:p@127.0.0.1:1", "http://127.0.0.1:1/?a=b", "http://127.0.0.1:1/#f"} {
		_, err := load.Run(t.Context(), load.Options{URL: u})
		require.ErrorContains(t, err, "load: URL", u)
	}
}

// TestRunHeaderInjection: a project or token cannot add header lines.
func TestRunHeaderInjection(t *testing.T) {
	for _, o := range []load.Options{
		{URL: "http://127.0.0.1:1", Project: "p\r\nX-Roles: admin"},
		{URL: "http://127.0.0.1:1", Token: "t\nX-Roles: admin"},
	} {
		_, err := load.Run(t.Context(), o)
		require.ErrorContains(t, err, "one line each")
	}
}

// TestRunReportsProgress: Report is called while the run goes on (here:
// while the first bulk DELETE is held, so not all is deleted yet) and once
// more at the end with the final counts; the Result carries a latency
// summary of every request.
func TestRunReportsProgress(t *testing.T) {
	midRun, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && held.CompareAndSwap(false, true) {
				select {
				case <-release:
				case <-time.After(30 * time.Second): // a guard against a hang, not a wait
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	srv, _ := newServer(t, wrap, nil)
	var reports []load.Result
	var once sync.Once
	r, err := load.Run(t.Context(), load.Options{
		URL: srv.URL, Producers: 2, Consumers: 2, Messages: 40, ReportEvery: time.Millisecond,
		Report: func(r load.Result) {
			reports = append(reports, r)
			if held.Load() && r.Deleted < 40 { // the held batch is not deleted yet
				once.Do(func() { close(midRun); close(release) })
			}
		},
	})
	require.NoError(t, err)
	select {
	case <-midRun:
	default:
		require.Fail(t, "no report while the run went on")
	}
	last := reports[len(reports)-1]
	require.EqualValues(t, 40, last.Posted)
	require.EqualValues(t, 40, last.Deleted)
	require.Equal(t, r.Posts, last.Posts)
	require.Equal(t, r.Deletes, last.Deletes)
	for kind, l := range map[string]struct {
		l load.Latencies
		n int64
	}{"post": {r.PostLatency, r.Posts}, "claim": {r.ClaimLatency, r.Claims}, "delete": {r.DeleteLatency, r.Deletes}} {
		require.EqualValues(t, l.n, l.l.N, kind)
		require.Positive(t, l.l.P50, kind)
		require.True(t, l.l.P50 <= l.l.P90 && l.l.P90 <= l.l.P99 && l.l.P99 <= l.l.Max, "%s: %v", kind, l.l)
	}
}

// Percentiles are nearest-rank.
func TestSummarize(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, ms(i))
	}
	require.Equal(t, load.Latencies{N: 100, P50: ms(50), P90: ms(90), P99: ms(99), Max: ms(100)}, load.Summarize(hundred))
	require.Equal(t, load.Latencies{N: 1, P50: ms(7), P90: ms(7), P99: ms(7), Max: ms(7)}, load.Summarize([]time.Duration{ms(7)}))
	require.Equal(t, load.Latencies{N: 3, P50: ms(2), P90: ms(3), P99: ms(3), Max: ms(3)}, load.Summarize([]time.Duration{ms(3), ms(1), ms(2)}))
	require.Equal(t, load.Latencies{}, load.Summarize(nil))
	require.Equal(t, "p50 1.5ms  p90 2ms  p99 2ms  max 2ms", load.Latencies{P50: 1500 * time.Microsecond, P90: ms(2), P99: ms(2), Max: ms(2)}.String())
}
