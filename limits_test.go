package herald_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func TestLimitsDefaults(t *testing.T) {
	d := herald.DefaultLimits()
	require.Equal(t, 10_000, d.MaxQueuesPerProject)
	require.Equal(t, 100, d.MaxSubscriptionsPerQueue)
	for _, l := range []herald.Limits{{MaxQueuesPerProject: -1}, {MaxSubscriptionsPerQueue: -1}} {
		_, err := herald.New(herald.Options{Store: memory.New(), Limits: l})
		require.ErrorIs(t, err, herald.ErrInvalid, "%+v", l)
	}
}

// limitStores are the stores the Service-level limit tests run on.
func limitStores(t *testing.T) map[string]func() store.Store {
	return map[string]func() store.Store{
		"memory": func() store.Store { return memory.New() },
		"bolt": func() store.Store {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "limits.db"), nil)
			require.NoError(t, err)
			return st
		},
	}
}

// L1 through every creating call of the Service, at the limit and one past
// it; another project is not affected; a deleted queue frees its slot.
func TestQueuesPerProjectLimit(t *testing.T) {
	for name, mk := range limitStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			svc := newService(t, func(o *herald.Options) {
				o.Store = mk()
				o.Limits.MaxQueuesPerProject = 2
			})
			p := svc.Project("p")
			created, err := p.Queue("a").Create(ctx, nil)
			require.NoError(t, err)
			require.True(t, created)
			post(t, p.Queue("b"), "lazy") // the second: at the limit

			requireTooMany := func(err error, what string) {
				t.Helper()
				require.ErrorIs(t, err, herald.ErrTooMany, what)
				require.NotErrorIs(t, err, herald.ErrInvalid, what)
				require.ErrorContains(t, err, "Limits.MaxQueuesPerProject 2", what)
			}
			_, err = p.Queue("c").Create(ctx, nil)
			requireTooMany(err, "Create")
			_, err = p.Queue("c").Post(ctx, herald.Draft{Body: []byte("x")})
			requireTooMany(err, "Post")
			_, _, err = p.Queue("c").Subscribe(ctx, "http://example.com/hook", herald.SubscribeOptions{})
			requireTooMany(err, "Subscribe")
			_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
				tx.Post(p.Queue("a"), herald.Draft{Body: []byte("in a")})
				tx.Post(p.Queue("c"), herald.Draft{Body: []byte("in c")})
				return nil
			})
			requireTooMany(err, "Tx")
			msgs, err := p.Queue("a").List(ctx, herald.ListOptions{})
			require.NoError(t, err)
			require.Empty(t, msgs, "the transaction failed whole")
			qs, err := p.ListQueues(ctx, herald.ListQueuesOptions{})
			require.NoError(t, err)
			require.Len(t, qs, 2)

			created, err = p.Queue("a").Create(ctx, nil)
			require.NoError(t, err, "an existing queue at the limit")
			require.False(t, created)
			post(t, svc.Project("other").Queue("c"), "another project")

			require.NoError(t, p.Queue("a").DeleteQueue(ctx))
			post(t, p.Queue("c"), "in the freed slot")
			_, err = p.Queue("d").Create(ctx, nil)
			requireTooMany(err, "full again")
		})
	}
}

// L2 at the limit and one past it, with concurrent subscribers racing for
// the last slot.
func TestSubscriptionsPerQueueLimit(t *testing.T) {
	for name, mk := range limitStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			svc := newService(t, func(o *herald.Options) {
				o.Store = mk()
				o.Limits.MaxSubscriptionsPerQueue = 3
				o.Notify.Client = &http.Client{Transport: roundTrip(func(*http.Request) (int, error) { return 204, nil })}
			})
			q := svc.Project("p").Queue("q")
			for i := range 2 {
				_, created, err := q.Subscribe(ctx, fmt.Sprintf("http://example.com/%d", i), herald.SubscribeOptions{})
				require.NoError(t, err)
				require.True(t, created)
			}
			errs := make([]error, 8)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					_, _, errs[i] = q.Subscribe(ctx, fmt.Sprintf("http://example.com/race%d", i), herald.SubscribeOptions{})
				})
			}
			wg.Wait()
			requireOneWon(t, errs, "Limits.MaxSubscriptionsPerQueue 3")
			subs, err := q.Subscriptions(ctx, herald.ID{}, 100)
			require.NoError(t, err)
			require.Len(t, subs, 3)

			_, created, err := q.Subscribe(ctx, "http://example.com/0", herald.SubscribeOptions{})
			require.NoError(t, err, "the same subscriber again")
			require.False(t, created)
			require.NoError(t, q.Unsubscribe(ctx, subs[0].ID))
			_, created, err = q.Subscribe(ctx, "http://example.com/new", herald.SubscribeOptions{})
			require.NoError(t, err, "a deleted subscription frees its slot")
			require.True(t, created)
		})
	}
}

// With pools the limit counts a project's queues on every pool, and a
// queue refused is placed nowhere; the count is read again from the
// catalog after a restart.
func TestQueuesPerProjectLimitPooled(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) herald.Pool {
		st, err := bolt.Open(filepath.Join(dir, name+".db"), nil)
		require.NoError(t, err)
		return herald.Pool{Name: name, Store: st, Weight: 1}
	}
	start := func() *herald.Service {
		svc, err := herald.New(herald.Options{Pools: []herald.Pool{open("one"), open("two")}, SweepInterval: -1, Rand: rand.New(rand.NewPCG(2, 2)),
			Limits: herald.Limits{MaxQueuesPerProject: 4}})
		require.NoError(t, err)
		return svc
	}
	svc := start()
	p := svc.Project("p")
	pools := map[string]bool{}
	for i := range 4 {
		q := p.Queue(fmt.Sprintf("q%d", i))
		post(t, q, "x")
		pool, err := q.Pool(ctx)
		require.NoError(t, err)
		pools[pool] = true
	}
	require.Len(t, pools, 2, "the queues are spread over both pools (seeded by the weights)")
	for _, create := range []func() error{
		func() error { _, err := p.Queue("q4").Create(ctx, nil); return err },
		func() error { _, err := p.Queue("q4").Post(ctx, herald.Draft{Body: []byte("y")}); return err },
	} {
		require.ErrorIs(t, create(), herald.ErrTooMany, "four queues over two pools")
	}
	_, err := p.Queue("q4").Pool(ctx)
	require.ErrorIs(t, err, herald.ErrNotFound, "no placement is left behind")
	post(t, svc.Project("other").Queue("q4"), "another project")
	require.NoError(t, svc.Close())

	svc = start()
	defer func() { require.NoError(t, svc.Close()) }()
	p = svc.Project("p")
	_, err = p.Queue("q4").Create(ctx, nil)
	require.ErrorIs(t, err, herald.ErrTooMany, "after a restart")
	require.NoError(t, p.Queue("q0").DeleteQueue(ctx))
	post(t, p.Queue("q4"), "in the freed slot")
	_, err = p.Queue("q5").Create(ctx, nil)
	require.ErrorIs(t, err, herald.ErrTooMany)
}

// L1 never loses a message: a claim's move to a missing dead-letter queue
// (C6) creates it past the limit, on both stores.
func TestDeadLetterMovePastQueueLimit(t *testing.T) {
	for name, mk := range limitStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			svc := newService(t, func(o *herald.Options) {
				o.Store = mk()
				o.Limits.MaxQueuesPerProject = 1
			})
			p := svc.Project("p")
			q := p.Queue("jobs")
			_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: "dead"}))
			require.NoError(t, err)
			ids := post(t, q, "job")
			c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
			require.NoError(t, err)
			require.NoError(t, c.Release(ctx, 0))
			c, err = q.Claim(ctx, herald.ClaimOptions{Limit: 1})
			require.NoError(t, err)
			require.Empty(t, c.Messages, "moved, not claimed")
			dead, err := p.Queue("dead").List(ctx, herald.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"job"}, bodies(dead))
			got, err := q.GetMany(ctx, ids...)
			require.NoError(t, err)
			require.Empty(t, got)
			_, err = p.Queue("other").Create(ctx, nil)
			require.ErrorIs(t, err, herald.ErrTooMany, "the dead-letter queue counts")
		})
	}
}

// With pools, creations of one project racing for its last slot, on
// either pool, let exactly one in.
func TestQueuesPerProjectLimitPooledRace(t *testing.T) {
	ctx := context.Background()
	svc := newPooled(t, []herald.Pool{memPool("one", 1), memPool("two", 1)}, func(o *herald.Options) {
		o.Limits.MaxQueuesPerProject = 5
	})
	p := svc.Project("p")
	for i := range 4 {
		post(t, p.Queue(fmt.Sprintf("pre%d", i)), "x")
	}
	errs := make([]error, 12)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = p.Queue(fmt.Sprintf("race%02d", i)).Post(ctx, herald.Draft{Body: []byte("x")})
		})
	}
	wg.Wait()
	requireOneWon(t, errs, "Limits.MaxQueuesPerProject 5")
	qs, err := p.ListQueues(ctx, herald.ListQueuesOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, qs, 5)
}

// L1 with pools: a Create refused at the limit changes nothing, also
// when the queue names a dead-letter queue the catalog has nowhere. The
// failure this prevents: Create placed (and so created) the dead-letter
// queue first, to put the new queue next to it (P5), and was then
// refused for the queue itself, leaving the project one queue fuller.
func TestCreateWithDeadLetterQueueAtLimitPooled(t *testing.T) {
	ctx := context.Background()
	svc := newPooled(t, []herald.Pool{memPool("a", 1)}, func(o *herald.Options) { o.Limits.MaxQueuesPerProject = 2 })
	p := svc.Project("p")
	_, err := p.Queue("first").Create(ctx, nil)
	require.NoError(t, err)
	_, err = p.Queue("jobs").Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: "dlq"}))
	require.ErrorIs(t, err, herald.ErrTooMany, "jobs and dlq would make three")
	qs, err := p.ListQueues(ctx, herald.ListQueuesOptions{})
	require.NoError(t, err)
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
	}
	require.Equal(t, []string{"first"}, names, "the refused Create left nothing behind")
	_, err = p.Queue("second").Create(ctx, nil)
	require.NoError(t, err, "the slot is still free")
}

// requireOneWon checks a race for a limit's last slot: one racer won, the
// others were refused with ErrTooMany naming the limit.
func requireOneWon(t *testing.T, errs []error, limit string) {
	t.Helper()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, herald.ErrTooMany, "racer %d", i)
		require.ErrorContains(t, err, limit, "racer %d", i)
	}
	require.Equal(t, 1, won, "exactly one racer takes the last slot")
}
