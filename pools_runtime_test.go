package herald_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// P3 under traffic: pools are added, re-weighted and removed while
// producers post to new and old queues and consumers claim and delete;
// every message is delivered exactly once and stays on its queue's pool.
// Run with -race.
func TestPoolsChangeUnderTraffic(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("b", 1)})
	const queues, producers, perProducer = 12, 4, 150
	want := producers * perProducer

	var posted atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				q := svc.Queue(fmt.Sprintf("q%d", (p*perProducer+i)%queues))
				if _, err := q.Post(ctx, herald.Draft{Body: fmt.Appendf(nil, "%d-%d", p, i)}); err != nil {
					t.Error(err)
					return
				}
				posted.Add(1)
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var done atomic.Int64
	for c := range 4 {
		wg.Go(func() {
			for n := c; done.Load() < int64(want); n++ {
				q := svc.Queue(fmt.Sprintf("q%d", n%queues))
				cl, err := q.Claim(ctx, herald.ClaimOptions{Limit: 5})
				if err != nil {
					t.Error(err)
					return
				}
				ids := make([]herald.ID, 0, len(cl.Messages))
				for _, m := range cl.Messages {
					ids = append(ids, m.ID)
				}
				if len(ids) == 0 {
					continue
				}
				if err := cl.Delete(ctx, ids...); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, m := range cl.Messages {
					seen[string(m.Body)]++
				}
				mu.Unlock()
				done.Add(int64(len(ids)))
			}
		})
	}
	wg.Go(func() { // the operator
		check := func(err error) {
			if err != nil {
				t.Error(err)
			}
		}
		check(svc.AddPool(ctx, memPool("c", 3)))
		check(svc.AddPool(ctx, memPool("spare", 0)))
		check(svc.SetPoolWeight(ctx, "b", 0))
		if _, err := svc.Pools(ctx); err != nil {
			t.Error(err)
		}
		check(svc.RemovePool(ctx, "spare")) // weight 0: never used
		check(svc.SetPoolWeight(ctx, "b", 2))
		if err := svc.RemovePool(ctx, "c"); err != nil && !errors.Is(err, herald.ErrPoolInUse) {
			t.Error(err)
		}
	})
	wg.Wait()
	require.EqualValues(t, want, posted.Load())
	require.Len(t, seen, want, "every message delivered")
	for body, n := range seen {
		require.Equal(t, 1, n, "message %s delivered once", body)
	}
	for i := range queues {
		q := svc.Queue(fmt.Sprintf("q%d", i))
		p := poolOf(t, q)
		require.NotEqual(t, "spare", p)
		require.Zero(t, total(t, q))
	}
}

// P1: with bolt pools and a bolt management store, a restart finds every
// queue on the pool it was placed on, with its messages, its claims and
// its flavors.
func TestPoolsSurviveRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "catalog.db"), filepath.Join(dir, "b1.db"), filepath.Join(dir, "b2.db")}
	open := func() herald.Options {
		var sts []*bolt.Store
		for _, p := range paths {
			st, err := bolt.Open(p, nil)
			require.NoError(t, err)
			sts = append(sts, st)
		}
		return herald.Options{
			Catalog: sts[0],
			Pools:   []herald.Pool{{Name: "b1", Store: sts[1], Weight: 1}, {Name: "b2", Store: sts[2], Weight: 1}},
		}
	}
	opts := open()
	svc, err := herald.New(opts)
	require.NoError(t, err)
	require.NoError(t, svc.Project("p").SetFlavor(ctx, herald.Flavor{Name: "f", Pools: []string{"b2"}, Capabilities: []string{"durable"}}))
	placed := map[string]string{}
	var claimID herald.ID
	for i := range 20 {
		q := svc.Project("p").Queue(fmt.Sprintf("q%02d", i))
		post(t, q, "first", "second")
		placed[q.Name()] = poolOf(t, q)
		if i == 0 {
			c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1, TTL: time.Hour})
			require.NoError(t, err)
			claimID = c.ID
		}
	}
	require.Len(t, distinct(placed), 2, "both pools hold queues")
	require.NoError(t, svc.Close())

	svc, err = herald.New(open())
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	for name, pool := range placed {
		q := svc.Project("p").Queue(name)
		require.Equal(t, pool, poolOf(t, q), "queue %s", name)
		require.EqualValues(t, 2, total(t, q), "queue %s keeps its messages", name)
	}
	c, err := svc.Project("p").Queue("q00").GetClaim(ctx, claimID)
	require.NoError(t, err, "a live claim survives (C8)")
	require.Len(t, c.Messages, 1)
	list, err := svc.Project("p").ListQueues(ctx, herald.ListQueuesOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, list, 20)
	f, err := svc.Project("p").Flavor(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, []string{"b2"}, f.Pools)
}

func distinct(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}
