package herald_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// B1, B3 with pools: Sweep sweeps every pool's store, and Close closes
// every pool's store and a separate catalog store, each once.
func TestPoolsSweepAndClose(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	catalog := &closeCounter{Store: memory.New()}
	a, b := &closeCounter{Store: memory.New()}, &closeCounter{Store: memory.New()}
	svc, err := herald.New(herald.Options{
		Pools:         []herald.Pool{{Name: "a", Store: a, Weight: 1}, {Name: "b", Store: b, Weight: 1}},
		Catalog:       catalogOf{catalog, catalog.Store.(store.Cataloger)},
		Now:           clock,
		SweepInterval: -1,
	})
	require.NoError(t, err)
	on := map[string]int{}
	for i := range 20 {
		q := svc.Queue(fmt.Sprintf("q%d", i))
		_, err := q.Post(ctx, herald.Draft{Body: []byte("x"), TTL: time.Minute})
		require.NoError(t, err)
		on[poolOf(t, q)]++
	}
	require.Len(t, on, 2, "both pools hold queues")
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	r, err := svc.Sweep(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 20, r.Messages, "expired messages of both pools swept")

	require.NoError(t, svc.Close())
	require.NoError(t, svc.Close(), "idempotent")
	for name, c := range map[string]*closeCounter{"a": a, "b": b, "catalog": catalog} {
		require.Equal(t, 1, c.closes(), "store %s closed once", name)
	}
}

// closeCounter counts Close calls.
type closeCounter struct {
	store.Store
	mu sync.Mutex
	n  int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Store.Close()
}

func (c *closeCounter) closes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// catalogOf is a counted store that keeps the catalog of the memory store
// it wraps.
type catalogOf struct {
	*closeCounter
	store.Cataloger
}
