package herald_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// Bad pool options make New fail with a typed error and leave the stores
// the caller's.
func TestPoolsBadOptions(t *testing.T) {
	shared := memory.New()
	defer shared.Close()
	cases := []struct {
		name string
		opts herald.Options
		want error
	}{
		{"neither Store nor Pools", herald.Options{}, herald.ErrInvalid},
		{"both Store and Pools", herald.Options{Store: memory.New(), Pools: []herald.Pool{memPool("a", 1)}}, herald.ErrInvalid},
		{"Catalog without Pools", herald.Options{Store: memory.New(), Catalog: memory.New()}, herald.ErrInvalid},
		{"duplicate names", herald.Options{Pools: []herald.Pool{memPool("a", 1), memPool("a", 1)}}, herald.ErrInvalid},
		{"negative weight", herald.Options{Pools: []herald.Pool{memPool("a", -1)}}, herald.ErrInvalid},
		{"bad name", herald.Options{Pools: []herald.Pool{memPool("a/b", 1)}}, herald.ErrInvalidName},
		{"empty name", herald.Options{Pools: []herald.Pool{memPool("", 1)}}, herald.ErrInvalidName},
		{"nil store", herald.Options{Pools: []herald.Pool{{Name: "a", Weight: 1}}}, herald.ErrInvalid},
		{"one store, two pools", herald.Options{Pools: []herald.Pool{{Name: "a", Store: shared}, {Name: "b", Store: shared}}}, herald.ErrInvalid},
		{"catalog without the interface", herald.Options{Pools: []herald.Pool{{Name: "a", Store: noCatalog{memory.New()}}, memPool("b", 1)}}, errors.ErrUnsupported},
		{"explicit catalog without the interface", herald.Options{Pools: []herald.Pool{memPool("a", 1)}, Catalog: noCatalog{memory.New()}}, errors.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, err := herald.New(c.opts)
			require.ErrorIs(t, err, c.want)
			require.Nil(t, svc)
			require.NotContains(t, err.Error(), "%!", "a well-formed message")
		})
	}
}

// P3 bad input: duplicate names, negative weights, unknown pools, and
// what a pool still in use refuses. Nothing changes.
func TestPoolsBadRuntimeChanges(t *testing.T) {
	ctx := t.Context()
	a := memPool("a", 0)
	svc := newPooled(t, []herald.Pool{a, memPool("b", 1)})
	post(t, svc.Queue("q"), "x")
	require.Equal(t, "b", poolOf(t, svc.Queue("q")))

	require.ErrorIs(t, svc.AddPool(ctx, memPool("a", 1)), herald.ErrInvalid, "a taken name")
	require.ErrorIs(t, svc.AddPool(ctx, herald.Pool{Name: "c", Store: a.Store}), herald.ErrInvalid, "a store already used")
	require.ErrorIs(t, svc.AddPool(ctx, memPool("c", -2)), herald.ErrInvalid)
	require.ErrorIs(t, svc.AddPool(ctx, memPool("c d", 1)), herald.ErrInvalidName)
	require.ErrorIs(t, svc.SetPoolWeight(ctx, "a", -1), herald.ErrInvalid)
	require.ErrorIs(t, svc.SetPoolWeight(ctx, "zz", 1), herald.ErrNotFound)
	require.ErrorIs(t, svc.RemovePool(ctx, "zz"), herald.ErrNotFound)
	_, err := svc.Pool(ctx, "zz")
	require.ErrorIs(t, err, herald.ErrNotFound)
	err = svc.RemovePool(ctx, "b")
	require.ErrorIs(t, err, herald.ErrPoolInUse)
	require.Contains(t, err.Error(), `"q"`, "the error names a queue on the pool")
	require.ErrorIs(t, svc.RemovePool(ctx, "a"), herald.ErrPoolInUse, "a holds the catalog")

	infos, err := svc.Pools(ctx)
	require.NoError(t, err)
	require.Len(t, infos, 2, "nothing changed")
	require.Equal(t, 1, infos[1].Weight)

	// Flavors: unknown pools, no pools, bad names.
	p := svc.Project("p")
	require.ErrorIs(t, p.SetFlavor(ctx, herald.Flavor{Name: "f", Pools: []string{"a", "zz"}}), herald.ErrInvalid)
	require.ErrorIs(t, p.SetFlavor(ctx, herald.Flavor{Name: "f"}), herald.ErrInvalid)
	require.ErrorIs(t, p.SetFlavor(ctx, herald.Flavor{Name: "f/g", Pools: []string{"a"}}), herald.ErrInvalidName)
	require.ErrorIs(t, p.SetFlavor(ctx, herald.Flavor{Name: "f", Pools: []string{"a"}, Capabilities: []string{"no spaces"}}), herald.ErrInvalidName)
	_, err = p.Flavor(ctx, "f")
	require.ErrorIs(t, err, herald.ErrNotFound, "nothing was stored")
	_, err = p.Flavors(ctx, "", -1)
	require.ErrorIs(t, err, herald.ErrInvalidLimit)

	// A queue naming an unknown flavor.
	_, err = p.Queue("fq").Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{Flavor: "nope"}))
	require.ErrorIs(t, err, herald.ErrInvalidMetadata)
	_, err = p.Queue("fq").Pool(ctx)
	require.ErrorIs(t, err, herald.ErrNotFound, "the queue was not placed")

	// No pool may take a new queue.
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 0))
	require.NoError(t, svc.SetPoolWeight(ctx, "b", 0))
	_, err = svc.Queue("new").Post(ctx, herald.Draft{Body: []byte("x")})
	require.ErrorIs(t, err, herald.ErrNoPool)
	post(t, svc.Queue("q"), "existing queues still work")
}

// P3: a pool whose queues are all deleted can be removed; its store is
// closed, and the rest go on.
func TestRemovePool(t *testing.T) {
	ctx := t.Context()
	b := memPool("b", 0)
	svc := newPooled(t, []herald.Pool{memPool("a", 1), b})
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 0))
	require.NoError(t, svc.SetPoolWeight(ctx, "b", 1))
	q := svc.Queue("q")
	post(t, q, "x")
	require.Equal(t, "b", poolOf(t, q))
	require.ErrorIs(t, svc.RemovePool(ctx, "b"), herald.ErrPoolInUse)
	require.NoError(t, q.DeleteQueue(ctx))
	require.NoError(t, svc.RemovePool(ctx, "b"))
	_, err := b.Store.ListQueues(ctx, storeList())
	require.ErrorIs(t, err, herald.ErrClosed, "the Service closed the removed pool's store")
	_, err = q.Post(ctx, herald.Draft{Body: []byte("y")})
	require.ErrorIs(t, err, herald.ErrNoPool, "a has weight 0, b is gone")
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 1))
	post(t, q, "y")
	require.Equal(t, "a", poolOf(t, q))
}

func storeList() store.ListQueuesParams { return store.ListQueuesParams{Limit: 1} }
