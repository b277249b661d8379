package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

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

// TestRunFullBatches moves messages in full claims of ten 256-byte bodies,
// answers long enough that the server sends them chunked, through a server
// that closes every connection after one answer, so every request dials
// again.
func TestRunFullBatches(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	srv := httptest.NewUnstartedServer(httpapi.New(svc, httpapi.Options{}))
	srv.Config.SetKeepAlivesEnabled(false)
	srv.Start()
	defer srv.Close()

	r, err := load.Run(t.Context(), load.Options{URL: srv.URL + "/", Producers: 1, Consumers: 1, Messages: 40, PostBatch: 10})
	require.NoError(t, err)
	require.EqualValues(t, 40, r.Deleted)
	require.EqualValues(t, 4, r.Posts)
	require.GreaterOrEqual(t, r.Claims-r.EmptyClaims, int64(4))
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

// TestRunBadURL: the load generator speaks plain HTTP only.
func TestRunBadURL(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1:1", "127.0.0.1:8888", "http://", "http://[::1"} {
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
