package httpapi_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// fullDisk is a memory store whose posts fail as bolt's do on a full
// disk while full is set, and which reports each post to OnWrite as bolt
// reports its commits.
type fullDisk struct {
	store.Store
	full atomic.Bool
	hook atomic.Pointer[func(error)]
}

// secretPath must never reach a client.
const secretPath = "/var/lib/herald/secret.db"

func (d *fullDisk) OnWrite(fn func(error)) { d.hook.Store(&fn) }

func (d *fullDisk) PostMessages(ctx context.Context, p store.PostParams) ([]store.ID, error) {
	var err error
	if d.full.Load() {
		err = store.Unavailable(&fs.PathError{Op: "write", Path: secretPath, Err: syscall.ENOSPC}, "%s: write", secretPath)
	}
	if h := d.hook.Load(); h != nil {
		(*h)(err)
	}
	if err != nil {
		return nil, err
	}
	return d.Store.PostMessages(ctx, p)
}

// §4, D5 over HTTP: a store that cannot write answers 503 naming the kind
// of failure (no path), and ping and health report it until a write
// succeeds again; reads keep working meanwhile.
func TestStorageUnavailable(t *testing.T) {
	disk := &fullDisk{Store: memory.New()}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, err := herald.New(herald.Options{Store: disk, SweepInterval: -1, Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	h := httpapi.New(svc, httpapi.Options{Admin: true})
	c := &client{t: t, h: h, headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject}}
	admin := c.with("X-Roles", "admin")
	health := func() map[string]any { return admin.expect(http.StatusOK, "GET", "/v2/health", "").json(t) }

	postIDs(t, c, `"before"`)
	c.expect(http.StatusNoContent, "GET", "/v2/ping", "")
	require.Equal(t, true, health()["storage_reachable"])

	disk.full.Store(true)
	r := c.expect(http.StatusServiceUnavailable, "POST", q+"/messages", `{"messages":[{"body":1}]}`)
	e := r.json(t)
	require.Equal(t, "Service temporarily unavailable", e["title"])
	require.Contains(t, e["description"], "disk full")
	require.NotContains(t, r.body, "secret", "no file path reaches the client")
	require.NotContains(t, r.body, "unexpected")

	st := svc.Health()
	require.ErrorIs(t, st.Err, herald.ErrUnavailable)
	require.ErrorIs(t, st.Err, syscall.ENOSPC)
	require.Equal(t, "default", st.Pool)
	require.True(t, st.Since.Equal(t0))
	c.expect(http.StatusServiceUnavailable, "GET", "/v2/ping", "")
	c.expect(http.StatusServiceUnavailable, "HEAD", "/v2/ping", "")
	got := health()
	require.Equal(t, false, got["storage_reachable"])
	require.Equal(t, "disk full", got["storage_error"])
	require.Len(t, c.expect(http.StatusOK, "GET", q+"/messages?echo=true", "").json(t)["messages"], 1, "reads still work")

	disk.full.Store(false)
	c.expect(http.StatusServiceUnavailable, "GET", "/v2/ping", "") // until a write succeeds
	postIDs(t, c, `"after"`)
	require.NoError(t, svc.Health().Err)
	c.expect(http.StatusNoContent, "GET", "/v2/ping", "")
	got = health()
	require.Equal(t, true, got["storage_reachable"])
	require.NotContains(t, got, "storage_error")
}
