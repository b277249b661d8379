package storetest

import (
	"errors"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of store.Cataloger (P1, P4). A store that does not
// implement it skips them.
var catalogTests = []subtest{
	{"P1/PlacementPutGetDelete", testPlacementPutGetDelete},
	{"P1/PlacementsListInNameOrder", testPlacementsList},
	{"P1/PlacementsByPool", testPlacementsByPool},
	{"P1/CatalogBadInput", testCatalogBadInput},
	{"P1/CatalogSurvivesReopen", testCatalogSurvivesReopen},
	{"P1/CatalogClosed", testCatalogClosed},
	{"P4/FlavorsPutGetListDelete", testFlavors},
}

// cataloger returns the store as a store.Cataloger, or skips the subtest.
// It asserts afresh each time, since Reopen replaces the store.
func (f *fixture) cataloger() store.Cataloger {
	f.t.Helper()
	c, ok := f.s.(store.Cataloger)
	if !ok {
		f.t.Skip("store does not implement store.Cataloger")
	}
	return c
}

func (f *fixture) place(q store.QueueRef, pool string) store.Placement {
	f.t.Helper()
	p := store.Placement{Queue: q, Pool: pool, Created: f.now}
	require.NoError(f.t, f.cataloger().PutPlacement(f.ctx, p), "PutPlacement %v", q)
	return p
}

func (f *fixture) placements(project, marker string, limit int) []string {
	f.t.Helper()
	ps, err := f.cataloger().ListPlacements(f.ctx, store.ListPlacementsParams{Project: project, Marker: marker, Limit: limit})
	require.NoError(f.t, err, "ListPlacements")
	out := make([]string, len(ps))
	for i, p := range ps {
		require.Equal(f.t, project, p.Queue.Project)
		out[i] = p.Queue.Name + "@" + p.Pool
	}
	return out
}

func (f *fixture) onPool(pool string, after store.QueueRef, limit int) []store.QueueRef {
	f.t.Helper()
	ps, err := f.cataloger().PoolPlacements(f.ctx, store.PoolPlacementsParams{Pool: pool, After: after, Limit: limit})
	require.NoError(f.t, err, "PoolPlacements")
	out := make([]store.QueueRef, len(ps))
	for i, p := range ps {
		require.Equal(f.t, pool, p.Pool)
		out[i] = p.Queue
	}
	return out
}

func testPlacementPutGetDelete(f *fixture) {
	c := f.cataloger()
	_, err := c.GetPlacement(f.ctx, ref("a"))
	require.ErrorIs(f.t, err, store.ErrNotFound, "before any placement")

	want := f.place(ref("a"), "pool1")
	got, err := c.GetPlacement(f.ctx, ref("a"))
	require.NoError(f.t, err)
	require.Equal(f.t, want.Pool, got.Pool)
	require.Equal(f.t, want.Queue, got.Queue)
	require.True(f.t, want.Created.Equal(got.Created), "Created %v, want %v", got.Created, want.Created)

	_, err = c.GetPlacement(f.ctx, store.QueueRef{Project: "other", Name: "a"})
	require.ErrorIs(f.t, err, store.ErrNotFound, "another project's queue of the same name (T1)")

	f.place(ref("a"), "pool2") // a replace
	got, err = c.GetPlacement(f.ctx, ref("a"))
	require.NoError(f.t, err)
	require.Equal(f.t, "pool2", got.Pool)

	require.NoError(f.t, c.DeletePlacement(f.ctx, ref("a")))
	_, err = c.GetPlacement(f.ctx, ref("a"))
	require.ErrorIs(f.t, err, store.ErrNotFound, "after delete")
	require.NoError(f.t, c.DeletePlacement(f.ctx, ref("a")), "deleting a missing placement")
}

func testPlacementsList(f *fixture) {
	for _, n := range []string{"c", "a", "b", "d"} {
		f.place(ref(n), "pool-"+n)
	}
	f.place(store.QueueRef{Project: "p2", Name: "x"}, "pool-x")
	f.place(store.QueueRef{Project: "", Name: "y"}, "pool-y")

	require.Equal(f.t, []string{"a@pool-a", "b@pool-b", "c@pool-c", "d@pool-d"}, f.placements("p", "", 10), "name order, one project (Q4, T1)")
	require.Equal(f.t, []string{"a@pool-a", "b@pool-b"}, f.placements("p", "", 2), "limit")
	require.Equal(f.t, []string{"c@pool-c", "d@pool-d"}, f.placements("p", "b", 10), "marker is exclusive")
	require.Equal(f.t, []string{"c@pool-c"}, f.placements("p", "bb", 1), "a marker that is not a queue")
	require.Empty(f.t, f.placements("p", "d", 10), "past the end")
	require.Equal(f.t, []string{"x@pool-x"}, f.placements("p2", "", 10))
	require.Equal(f.t, []string{"y@pool-y"}, f.placements("", "", 10), "the default project")
	require.Empty(f.t, f.placements("none", "", 10))
}

func testPlacementsByPool(f *fixture) {
	f.place(ref("b"), "one")
	f.place(ref("a"), "one")
	f.place(store.QueueRef{Project: "", Name: "z"}, "one")
	f.place(ref("c"), "two")
	f.place(ref("d"), "one2") // a pool whose name extends another's
	// Projects may begin with bytes that sort below a separator ('-',
	// '.', ' ') and may extend each other: order is by project first.
	dash := store.QueueRef{Project: "-x", Name: "q"}
	longer := store.QueueRef{Project: ref("a").Project + "-x", Name: "a"}
	f.place(dash, "one")
	f.place(longer, "one")

	all := f.onPool("one", store.QueueRef{}, 10)
	require.Equal(f.t, []store.QueueRef{{Project: "", Name: "z"}, dash, ref("a"), ref("b"), longer}, all, "(project, name) order")
	for _, q := range []store.QueueRef{dash, longer} {
		require.NoError(f.t, f.cataloger().DeletePlacement(f.ctx, q))
	}
	all = all[:1:1]
	all = append(all, ref("a"), ref("b"))
	require.Equal(f.t, all[:2], f.onPool("one", store.QueueRef{}, 2), "limit")
	require.Equal(f.t, all[2:], f.onPool("one", ref("a"), 10), "after is exclusive")
	require.Equal(f.t, []store.QueueRef{ref("c")}, f.onPool("two", store.QueueRef{}, 10))
	require.Empty(f.t, f.onPool("three", store.QueueRef{}, 10))

	f.place(ref("a"), "two") // moving a placement moves its pool entry
	require.Equal(f.t, []store.QueueRef{{Project: "", Name: "z"}, ref("b")}, f.onPool("one", store.QueueRef{}, 10))
	require.Equal(f.t, []store.QueueRef{ref("a"), ref("c")}, f.onPool("two", store.QueueRef{}, 10))

	require.NoError(f.t, f.cataloger().DeletePlacement(f.ctx, ref("c")))
	require.Equal(f.t, []store.QueueRef{ref("a")}, f.onPool("two", store.QueueRef{}, 10), "a deleted placement leaves its pool")
}

func testCatalogBadInput(f *fixture) {
	c := f.cataloger()
	bad := []struct {
		name string
		err  error
	}{
		{"bad queue", c.PutPlacement(f.ctx, store.Placement{Queue: ref("a/b"), Pool: "p"})},
		{"bad project", c.PutPlacement(f.ctx, store.Placement{Queue: store.QueueRef{Project: "x/y", Name: "a"}, Pool: "p"})},
		{"bad pool", c.PutPlacement(f.ctx, store.Placement{Queue: ref("a"), Pool: "p/q"})},
		{"empty pool", c.PutPlacement(f.ctx, store.Placement{Queue: ref("a"), Pool: ""})},
		{"get bad queue", func() error { _, err := c.GetPlacement(f.ctx, ref("")); return err }()},
		{"delete bad queue", c.DeletePlacement(f.ctx, ref("a b"))},
		{"list limit", func() error {
			_, err := c.ListPlacements(f.ctx, store.ListPlacementsParams{Project: "p", Limit: 0})
			return err
		}()},
		{"pool list bad pool", func() error {
			_, err := c.PoolPlacements(f.ctx, store.PoolPlacementsParams{Pool: "", Limit: 1})
			return err
		}()},
		{"flavor without pools", c.PutFlavor(f.ctx, store.FlavorRecord{Project: "p", Name: "f"})},
		{"flavor bad name", c.PutFlavor(f.ctx, store.FlavorRecord{Project: "p", Name: "f/g", Pools: []string{"a"}})},
		{"flavor bad pool", c.PutFlavor(f.ctx, store.FlavorRecord{Project: "p", Name: "f", Pools: []string{"a b"}})},
		{"flavor bad capability", c.PutFlavor(f.ctx, store.FlavorRecord{Project: "p", Name: "f", Pools: []string{"a"}, Capabilities: []string{""}})},
		{"get flavor bad name", func() error { _, err := c.GetFlavor(f.ctx, "p", ""); return err }()},
		{"flavor list limit", func() error {
			_, err := c.ListFlavors(f.ctx, store.ListFlavorsParams{Project: "p", Limit: -1})
			return err
		}()},
	}
	for _, b := range bad {
		require.ErrorIs(f.t, b.err, store.ErrInvalid, b.name)
	}
	require.Empty(f.t, f.placements("p", "", 10), "bad input changed nothing")
	fs, err := c.ListFlavors(f.ctx, store.ListFlavorsParams{Project: "p", Limit: 10})
	require.NoError(f.t, err)
	require.Empty(f.t, fs, "bad input changed nothing")
}

func testCatalogSurvivesReopen(f *fixture) {
	f.requireReopen()
	f.cataloger()
	f.place(ref("a"), "one")
	f.place(ref("b"), "two")
	f.place(ref("gone"), "two")
	require.NoError(f.t, f.cataloger().DeletePlacement(f.ctx, ref("gone")))
	fl := store.FlavorRecord{Project: "p", Name: "fast", Pools: []string{"one", "two"}, Capabilities: []string{"fifo"}}
	require.NoError(f.t, f.cataloger().PutFlavor(f.ctx, fl))
	f.reopen()
	require.Equal(f.t, []string{"a@one", "b@two"}, f.placements("p", "", 10))
	require.Equal(f.t, []store.QueueRef{ref("b")}, f.onPool("two", store.QueueRef{}, 10))
	got, err := f.cataloger().GetFlavor(f.ctx, "p", "fast")
	require.NoError(f.t, err)
	require.Equal(f.t, fl, got)
}

func testCatalogClosed(f *fixture) {
	c := f.cataloger()
	require.NoError(f.t, f.s.Close())
	_, err := c.GetPlacement(f.ctx, ref("a"))
	require.ErrorIs(f.t, err, store.ErrClosed)
	require.ErrorIs(f.t, c.PutPlacement(f.ctx, store.Placement{Queue: ref("a"), Pool: "p", Created: f.now}), store.ErrClosed)
	_, err = c.ListFlavors(f.ctx, store.ListFlavorsParams{Project: "p", Limit: 1})
	require.ErrorIs(f.t, err, store.ErrClosed)
}

func testFlavors(f *fixture) {
	c := f.cataloger()
	_, err := c.GetFlavor(f.ctx, "p", "fast")
	require.ErrorIs(f.t, err, store.ErrNotFound)
	fast := store.FlavorRecord{Project: "p", Name: "fast", Pools: []string{"m1", "m2"}, Capabilities: []string{"fifo", "claims"}}
	durable := store.FlavorRecord{Project: "p", Name: "durable", Pools: []string{"b1"}}
	other := store.FlavorRecord{Project: "q", Name: "fast", Pools: []string{"b1"}}
	for _, fl := range []store.FlavorRecord{fast, durable, other} {
		require.NoError(f.t, c.PutFlavor(f.ctx, fl))
	}
	got, err := c.GetFlavor(f.ctx, "p", "fast")
	require.NoError(f.t, err)
	require.Equal(f.t, fast, got)
	got.Pools[0] = "changed" // callers never share the store's slices
	got, err = c.GetFlavor(f.ctx, "q", "fast")
	require.NoError(f.t, err)
	require.Equal(f.t, other, got, "projects keep their own flavors (T1)")

	list := func(marker string, limit int) []string {
		fs, err := c.ListFlavors(f.ctx, store.ListFlavorsParams{Project: "p", Marker: marker, Limit: limit})
		require.NoError(f.t, err)
		var names []string
		for _, fl := range fs {
			names = append(names, fl.Name)
		}
		return names
	}
	require.Equal(f.t, []string{"durable", "fast"}, list("", 10))
	require.Equal(f.t, []string{"durable"}, list("", 1))
	require.Equal(f.t, []string{"fast"}, list("durable", 10))

	fast.Pools = []string{"m3"}
	require.NoError(f.t, c.PutFlavor(f.ctx, fast), "replace")
	got, err = c.GetFlavor(f.ctx, "p", "fast")
	require.NoError(f.t, err)
	require.Equal(f.t, []string{"m3"}, got.Pools)

	require.NoError(f.t, c.DeleteFlavor(f.ctx, "p", "fast"))
	require.NoError(f.t, c.DeleteFlavor(f.ctx, "p", "fast"), "deleting a missing flavor")
	_, err = c.GetFlavor(f.ctx, "p", "fast")
	require.True(f.t, errors.Is(err, store.ErrNotFound))
	require.Equal(f.t, []string{"durable"}, list("", 10))
}
