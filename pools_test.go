package herald_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// newPooled returns a Service over pools, with a seeded Rand, closed when
// the test ends.
func newPooled(t *testing.T, pools []herald.Pool, edit ...func(*herald.Options)) *herald.Service {
	t.Helper()
	opts := herald.Options{Pools: pools, Rand: rand.New(rand.NewPCG(1, 2)), SweepInterval: -1}
	for _, e := range edit {
		e(&opts)
	}
	svc, err := herald.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

func memPool(name string, weight int) herald.Pool {
	return herald.Pool{Name: name, Store: memory.New(), Weight: weight}
}

func boltPool(t *testing.T, name string, weight int) herald.Pool {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), name+".db"), nil)
	require.NoError(t, err)
	return herald.Pool{Name: name, Store: st, Weight: weight}
}

func poolOf(t *testing.T, q *herald.Queue) string {
	t.Helper()
	name, err := q.Pool(context.Background())
	require.NoError(t, err, "Pool of %q", q.Name())
	return name
}

// P1: queues spread over memory and bolt pools; each queue's messages live
// in its pool's store only, and every queue operation finds them there.
func TestPoolsMixedMemoryAndBolt(t *testing.T) {
	ctx := t.Context()
	pools := []herald.Pool{memPool("m1", 1), boltPool(t, "b1", 1), memPool("m2", 1)}
	svc := newPooled(t, pools)
	seen := map[string]int{}
	for i := range 30 {
		q := svc.Queue(fmt.Sprintf("q%02d", i))
		post(t, q, "a", "b")
		p := poolOf(t, q)
		seen[p]++
		for _, pl := range pools {
			_, err := pl.Store.GetQueue(ctx, store.GetQueueParams{Queue: store.QueueRef{Name: q.Name()}})
			if pl.Name == p {
				require.NoError(t, err, "queue %s on its pool %s", q.Name(), p)
			} else {
				require.ErrorIs(t, err, herald.ErrNotFound, "queue %s on pool %s, not %s", q.Name(), p, pl.Name)
			}
		}
		c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, bodies(c.Messages))
		require.NoError(t, c.Delete(ctx, c.Messages[0].ID))
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Total)
	}
	require.Len(t, seen, 3, "every pool got queues: %v", seen)

	infos, err := svc.Pools(ctx)
	require.NoError(t, err)
	var queues, msgs int64
	for _, in := range infos {
		require.EqualValues(t, seen[in.Name], in.Queues, "pool %s", in.Name)
		require.EqualValues(t, seen[in.Name], in.Messages, "pool %s: one message left per queue", in.Name)
		if in.Name == "b1" {
			require.Positive(t, in.Size, "the bolt pool reports its file size")
		} else {
			require.EqualValues(t, -1, in.Size, "a memory pool has no size")
		}
		queues += in.Queues
		msgs += in.Messages
	}
	require.EqualValues(t, 30, queues)
	require.EqualValues(t, 30, msgs)
}

// Q4 across pools: the catalog lists a project's queues in name order,
// with markers and limits, whatever pool holds them.
func TestPoolsListQueues(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("b", 1), memPool("c", 1)})
	var names []string
	for i := range 25 {
		name := fmt.Sprintf("q%02d", 24-i)
		_, err := svc.Project("p").Queue(name).Create(ctx, herald.Metadata{"n": i})
		require.NoError(t, err)
		names = append([]string{name}, names...)
	}
	post(t, svc.Project("other").Queue("zzz"), "x")

	var got []string
	marker := ""
	for {
		page, err := svc.Project("p").ListQueues(ctx, herald.ListQueuesOptions{Marker: marker, Limit: 7, WithMetadata: true})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 7)
		for _, qi := range page {
			got = append(got, qi.Name)
			require.NotNil(t, qi.Metadata)
			require.False(t, qi.Created.IsZero())
		}
		marker = page[len(page)-1].Name
	}
	require.Equal(t, names, got)

	plain, err := svc.Project("p").ListQueues(ctx, herald.ListQueuesOptions{Marker: "q10", Limit: 3})
	require.NoError(t, err)
	require.Len(t, plain, 3)
	require.Equal(t, "q11", plain[0].Name)
	require.Nil(t, plain[0].Metadata)

	require.NoError(t, svc.Project("p").Queue("q11").DeleteQueue(ctx))
	plain, err = svc.Project("p").ListQueues(ctx, herald.ListQueuesOptions{Marker: "q10", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "q12", plain[0].Name, "a deleted queue leaves the catalog")
	_, err = svc.Project("p").Queue("q11").Pool(ctx)
	require.ErrorIs(t, err, herald.ErrNotFound)
}

// P2: with a fixed seed, placement frequencies match the weights within a
// chi-square bound, and a pool of weight 0 gets nothing.
func TestPlacementFollowsWeights(t *testing.T) {
	ctx := t.Context()
	weights := map[string]int{"w1": 1, "w2": 2, "w3": 5, "w0": 0}
	svc := newPooled(t, []herald.Pool{memPool("w1", 1), memPool("w2", 2), memPool("w3", 5), memPool("w0", 0)})
	const n = 4000
	counts := map[string]int{}
	for i := range n {
		q := svc.Queue(fmt.Sprintf("q%d", i))
		_, err := q.Create(ctx, nil)
		require.NoError(t, err)
		counts[poolOf(t, q)]++
	}
	require.Zero(t, counts["w0"], "weight 0 is never chosen")
	chi2 := 0.0
	for name, w := range weights {
		if w == 0 {
			continue
		}
		want := float64(n) * float64(w) / 8
		d := float64(counts[name]) - want
		chi2 += d * d / want
	}
	// Two degrees of freedom: P(chi2 > 13.82) = 0.001.
	require.Less(t, chi2, 13.82, "counts %v for weights %v", counts, weights)
}

// P2: existing queues never move when pools change; new ones follow the
// new weights.
func TestPlacementIsForLife(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("b", 0)})
	q := svc.Queue("old")
	post(t, q, "1")
	require.Equal(t, "a", poolOf(t, q))
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 0))
	require.NoError(t, svc.SetPoolWeight(ctx, "b", 1))
	post(t, q, "2")
	require.Equal(t, "a", poolOf(t, q), "an existing queue stays")
	n := svc.Queue("new")
	post(t, n, "x")
	require.Equal(t, "b", poolOf(t, n))

	require.NoError(t, q.DeleteQueue(ctx))
	post(t, q, "3")
	require.Equal(t, "b", poolOf(t, q), "a deleted queue is placed anew")
	msgs, err := q.List(ctx, herald.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"3"}, bodies(msgs))
}

// C7 with pools: a claimer waiting on a queue that does not exist yet
// gets the message that creates it, wherever it is placed.
func TestPoolsBlockingClaimOnNewQueue(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 0), memPool("b", 1)})
	q := svc.Queue("later")
	got := make(chan *herald.Claim, 1)
	go func() {
		c, err := q.Claim(ctx, herald.ClaimOptions{Wait: time.Minute})
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	post(t, q, "hello")
	c := <-got
	require.Equal(t, []string{"hello"}, bodies(c.Messages))
}

// A Service made with Options.Store is one pool, "default", weight 1, with
// no catalog: pools and flavors cannot be added.
func TestSingleStoreIsOnePool(t *testing.T) {
	ctx := t.Context()
	svc := newService(t)
	post(t, svc.Queue("q"), "x")
	infos, err := svc.Pools(ctx)
	require.NoError(t, err)
	require.Equal(t, []herald.PoolInfo{{Name: "default", Weight: 1, Queues: -1, Messages: -1, Size: -1}}, infos)
	require.Equal(t, "default", poolOf(t, svc.Queue("q")))
	require.ErrorIs(t, svc.AddPool(ctx, memPool("more", 1)), errors.ErrUnsupported)
	require.ErrorIs(t, svc.RemovePool(ctx, "default"), errors.ErrUnsupported)
	require.ErrorIs(t, svc.Project("").SetFlavor(ctx, herald.Flavor{Name: "f", Pools: []string{"default"}}), errors.ErrUnsupported)
}

// One pool whose store has no catalog works as Options.Store does.
func TestOnePoolWithoutCatalog(t *testing.T) {
	svc := newPooled(t, []herald.Pool{{Name: "only", Store: noCatalog{memory.New()}, Weight: 1}})
	post(t, svc.Queue("q"), "x")
	require.Equal(t, "only", poolOf(t, svc.Queue("q")))
}

// noCatalog hides a store's optional abilities.
type noCatalog struct{ store.Store }
