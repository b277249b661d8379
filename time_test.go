package herald_test

// RELIABILITY §7, time: expiry boundaries, the clock stepping back, and a
// mass expiry after a 24 h step, on both stores through the herald API.
// Tests that run the sweeper or the scheduler for real use testing/synctest;
// the others drive Options.Now by hand and never sleep.

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

// timeStores are the stores the time tests run on; open returns a fresh one.
var timeStores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(*testing.T) store.Store { return newMemory() }},
	{"bolt", func(t *testing.T) store.Store {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "herald.db"), nil)
		require.NoError(t, err)
		return st
	}},
}

// clockService returns a Service on st driven by clk, with no background
// sweeper, closed when the test ends.
func clockService(t *testing.T, st store.Store, clk *clock) *herald.Service {
	t.Helper()
	svc, err := herald.New(herald.Options{Store: st, Now: clk.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

// requireTime asserts two instants are equal, whatever their locations.
func requireTime(t *testing.T, want, got time.Time) {
	t.Helper()
	require.True(t, want.Equal(got), "want %v, got %v", want, got)
}

// setClock moves clk to at, forwards or backwards.
func setClock(clk *clock, at time.Time) { clk.Advance(at.Sub(clk.Now())) }

var boundaryOffsets = []time.Duration{-time.Nanosecond, 0, time.Nanosecond}

// M4, C2, M5, C6, M10: every deadline is exclusive: one nanosecond before
// it the thing is still live (or still hidden), at it and after it the
// thing is over. Each case runs on a fresh store per offset because stores
// never let time go backwards.
func TestExpiryBoundaries(t *testing.T) {
	cases := []struct {
		name string
		// setup returns the deadline; check asserts the state at
		// deadline+d, where over is d >= 0.
		setup func(t *testing.T, svc *herald.Service, clk *clock) (deadline time.Time, check func(t *testing.T, over bool))
	}{
		{"message-ttl", func(t *testing.T, svc *herald.Service, clk *clock) (time.Time, func(*testing.T, bool)) {
			ctx := context.Background()
			q := svc.Queue("q")
			ids, err := q.Post(ctx, herald.Draft{Body: []byte("m"), TTL: 10 * time.Second})
			require.NoError(t, err)
			m, err := q.Get(ctx, ids[0])
			require.NoError(t, err)
			requireTime(t, clk.Now().Add(10*time.Second), m.Expires)
			return m.Expires, func(t *testing.T, over bool) {
				_, err := q.Get(ctx, ids[0])
				st, serr := q.Stats(ctx)
				require.NoError(t, serr)
				msgs, lerr := q.List(ctx, herald.ListOptions{IncludeClaimed: true, IncludeDelayed: true})
				require.NoError(t, lerr)
				if over {
					require.ErrorIs(t, err, herald.ErrNotFound)
					require.Zero(t, st.Total)
					require.Empty(t, msgs)
					c, err := q.Claim(ctx, herald.ClaimOptions{})
					require.NoError(t, err)
					require.Empty(t, c.Messages)
				} else {
					require.NoError(t, err)
					require.Equal(t, int64(1), st.Total)
					require.Len(t, msgs, 1)
					c, err := q.Claim(ctx, herald.ClaimOptions{})
					require.NoError(t, err)
					require.Len(t, c.Messages, 1)
				}
			}
		}},
		{"claim-expiry", func(t *testing.T, svc *herald.Service, clk *clock) (time.Time, func(*testing.T, bool)) {
			ctx := context.Background()
			q := svc.Queue("q")
			ids := post(t, q, "m")
			c1, err := q.Claim(ctx, herald.ClaimOptions{TTL: 30 * time.Second})
			require.NoError(t, err)
			require.Len(t, c1.Messages, 1)
			requireTime(t, clk.Now().Add(30*time.Second), c1.Expires)
			return c1.Expires, func(t *testing.T, over bool) {
				m, err := q.Get(ctx, ids[0])
				require.NoError(t, err, "grace keeps the message")
				st, err := q.Stats(ctx)
				require.NoError(t, err)
				if over {
					require.True(t, m.ClaimID.IsZero(), "an expired claim is never reported")
					require.Equal(t, int64(1), st.Free)
					require.ErrorIs(t, c1.Renew(ctx, 0), herald.ErrClaimNotFound)
					require.ErrorIs(t, c1.Delete(ctx, ids[0]), herald.ErrNotClaimed)
					c2, err := q.Claim(ctx, herald.ClaimOptions{})
					require.NoError(t, err)
					require.Len(t, c2.Messages, 1, "claimed → free at the expiry")
				} else {
					require.Equal(t, c1.ID, m.ClaimID)
					require.Equal(t, int64(1), st.Claimed)
					c2, err := q.Claim(ctx, herald.ClaimOptions{})
					require.NoError(t, err)
					require.Empty(t, c2.Messages, "no second live claimant")
					require.ErrorIs(t, q.Delete(ctx, ids[0]), herald.ErrClaimMismatch)
					require.NoError(t, c1.Delete(ctx, ids[0]))
				}
			}
		}},
		{"delay-end", func(t *testing.T, svc *herald.Service, clk *clock) (time.Time, func(*testing.T, bool)) {
			ctx := context.Background()
			q := svc.Queue("q")
			ids, err := q.Post(ctx, herald.Draft{Body: []byte("m"), Delay: 10 * time.Second})
			require.NoError(t, err)
			m, err := q.Get(ctx, ids[0])
			require.NoError(t, err)
			requireTime(t, clk.Now().Add(10*time.Second), m.VisibleAt)
			return m.VisibleAt, func(t *testing.T, over bool) {
				msgs, err := q.List(ctx, herald.ListOptions{})
				require.NoError(t, err)
				st, err := q.Stats(ctx)
				require.NoError(t, err)
				c, err := q.Claim(ctx, herald.ClaimOptions{})
				require.NoError(t, err)
				if over {
					require.Len(t, msgs, 1)
					require.Equal(t, int64(1), st.Free)
					require.Len(t, c.Messages, 1)
				} else {
					require.Empty(t, msgs)
					require.Equal(t, int64(1), st.Delayed)
					require.Empty(t, c.Messages)
				}
			}
		}},
		{"dead-letter-ttl", func(t *testing.T, svc *herald.Service, clk *clock) (time.Time, func(*testing.T, bool)) {
			ctx := context.Background()
			q := svc.Queue("src")
			_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
				MaxClaimCount: 1, DeadLetterQueue: "dlq", DeadLetterTTL: 2 * time.Minute,
			}))
			require.NoError(t, err)
			post(t, q, "m")
			c, err := q.Claim(ctx, herald.ClaimOptions{})
			require.NoError(t, err)
			require.Len(t, c.Messages, 1)
			require.NoError(t, c.Release(ctx, 0))
			clk.Advance(time.Second)
			c, err = q.Claim(ctx, herald.ClaimOptions{})
			require.NoError(t, err)
			require.Empty(t, c.Messages, "moved to the dead-letter queue instead")
			dlq := svc.Queue("dlq")
			msgs, err := dlq.List(ctx, herald.ListOptions{})
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			requireTime(t, clk.Now().Add(2*time.Minute), msgs[0].Expires)
			id := msgs[0].ID
			return msgs[0].Expires, func(t *testing.T, over bool) {
				_, err := dlq.Get(ctx, id)
				st, serr := dlq.Stats(ctx)
				require.NoError(t, serr)
				if over {
					require.ErrorIs(t, err, herald.ErrNotFound)
					require.Zero(t, st.Total)
				} else {
					require.NoError(t, err)
					require.Equal(t, int64(1), st.Total)
				}
			}
		}},
		{"dedup-window", func(t *testing.T, svc *herald.Service, clk *clock) (time.Time, func(*testing.T, bool)) {
			ctx := context.Background()
			q := svc.Queue("q")
			first, err := q.Post(ctx, herald.Draft{Body: []byte("m"), DedupID: "k"})
			require.NoError(t, err)
			end := clk.Now().Add(svc.Limits().DedupWindow)
			return end, func(t *testing.T, over bool) {
				again, err := q.Post(ctx, herald.Draft{Body: []byte("m"), DedupID: "k"})
				require.NoError(t, err)
				st, err := q.Stats(ctx)
				require.NoError(t, err)
				if over {
					require.NotEqual(t, first, again, "the window is over: a new message")
					require.Equal(t, int64(2), st.Total)
				} else {
					require.Equal(t, first, again, "within the window: the first message's ID")
					require.Equal(t, int64(1), st.Total)
				}
			}
		}},
	}
	for _, sk := range timeStores {
		for _, tc := range cases {
			for _, d := range boundaryOffsets {
				t.Run(fmt.Sprintf("%s/%s/%v", sk.name, tc.name, d), func(t *testing.T) {
					clk := newClock()
					svc := clockService(t, sk.open(t), clk)
					deadline, check := tc.setup(t, svc, clk)
					setClock(clk, deadline.Add(d))
					check(t, d >= 0)
				})
			}
		}
	}
}

// stepBackWorld is what TestClockStepBack sets up before the step.
type stepBackWorld struct {
	held, free, short, lapsed herald.ID
	c1, c2                    herald.ID // c1 live across the step, c2 expired before it
}

// setupStepBack posts and claims at the clock's time, then moves the clock
// 5 minutes on (c2 and short expire) and reads (so the store has seen that
// time), and returns what it made.
func setupStepBack(t *testing.T, svc *herald.Service, clk *clock) stepBackWorld {
	ctx := context.Background()
	var w stepBackWorld
	jobs := svc.Queue("jobs")
	ids := post(t, jobs, "held", "free")
	w.held, w.free = ids[0], ids[1]
	c1, err := jobs.Claim(ctx, herald.ClaimOptions{TTL: 10 * time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"held"}, bodies(c1.Messages))
	w.c1 = c1.ID

	ids, err = svc.Queue("ttl").Post(ctx, herald.Draft{Body: []byte("short"), TTL: 90 * time.Second})
	require.NoError(t, err)
	w.short = ids[0]

	lapse := svc.Queue("lapse")
	w.lapsed = post(t, lapse, "lapsed")[0]
	c2, err := lapse.Claim(ctx, herald.ClaimOptions{TTL: time.Minute})
	require.NoError(t, err)
	require.Len(t, c2.Messages, 1)
	w.c2 = c2.ID

	clk.Advance(5 * time.Minute)
	// Reads only: the store learns the time without a write.
	_, err = svc.Queue("ttl").Get(ctx, w.short)
	require.ErrorIs(t, err, herald.ErrNotFound)
	m, err := lapse.Get(ctx, w.lapsed)
	require.NoError(t, err)
	require.True(t, m.ClaimID.IsZero())
	return w
}

// checkStepBack asserts, with the clock an hour or more behind what the
// store has seen, that nothing the store knew to be over comes back and
// that the live claim keeps its messages.
func checkStepBack(t *testing.T, svc *herald.Service, w stepBackWorld) {
	ctx := context.Background()
	jobs, ttl, lapse := svc.Queue("jobs"), svc.Queue("ttl"), svc.Queue("lapse")

	// An expired message stays expired.
	_, err := ttl.Get(ctx, w.short)
	require.ErrorIs(t, err, herald.ErrNotFound)
	msgs, err := ttl.List(ctx, herald.ListOptions{IncludeClaimed: true, IncludeDelayed: true})
	require.NoError(t, err)
	require.Empty(t, msgs)
	st, err := ttl.Stats(ctx)
	if err == nil {
		require.Zero(t, st.Total)
	} else {
		require.ErrorIs(t, err, herald.ErrNotFound)
	}

	// An expired claim stays expired: it does not hold its message again.
	m, err := lapse.Get(ctx, w.lapsed)
	require.NoError(t, err)
	require.True(t, m.ClaimID.IsZero(), "claim %s expired before the step", w.c2)
	require.ErrorIs(t, lapse.ClaimByID(w.c2).Renew(ctx, time.Minute), herald.ErrClaimNotFound)
	require.ErrorIs(t, lapse.ClaimByID(w.c2).Delete(ctx, w.lapsed), herald.ErrNotClaimed)
	c, err := lapse.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"lapsed"}, bodies(c.Messages))

	// The live claim stays live: no second live claimant.
	m, err = jobs.Get(ctx, w.held)
	require.NoError(t, err)
	require.Equal(t, w.c1, m.ClaimID)
	c, err = jobs.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"free"}, bodies(c.Messages), "a claim after the step does not get the held message")
	require.ErrorIs(t, jobs.Delete(ctx, w.held), herald.ErrClaimMismatch)
	require.ErrorIs(t, c.Delete(ctx, w.held), herald.ErrClaimMismatch)
	require.NoError(t, jobs.ClaimByID(w.c1).Delete(ctx, w.held))
}

// The clock steps back an hour (Options.Now jumps back): stores keep time
// by their high-water clock, so there is no second live claimant and no
// resurrection of an expired claim or message. The bolt store persists its
// high-water clock, so the same holds across a reopen.
func TestClockStepBack(t *testing.T) {
	for _, sk := range timeStores {
		t.Run(sk.name, func(t *testing.T) {
			clk := newClock()
			svc := clockService(t, sk.open(t), clk)
			w := setupStepBack(t, svc, clk)
			clk.Advance(-time.Hour)
			checkStepBack(t, svc, w)
		})
	}
	t.Run("bolt-reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "herald.db")
		st, err := bolt.Open(path, nil)
		require.NoError(t, err)
		clk := newClock()
		svc, err := herald.New(herald.Options{Store: st, Now: clk.Now, SweepInterval: -1})
		require.NoError(t, err)
		w := setupStepBack(t, svc, clk)
		require.NoError(t, svc.Close())

		clk.Advance(-time.Hour)
		st, err = bolt.Open(path, nil)
		require.NoError(t, err)
		checkStepBack(t, clockService(t, st, clk), w)
	})
}

// sweepLog wraps a store and records each Sweep call's limit and result.
type sweepLog struct {
	store.Store
	mu    sync.Mutex
	calls []sweepCall
}

type sweepCall struct {
	limit int
	res   store.SweepResult
}

func (l *sweepLog) Sweep(ctx context.Context, p store.SweepParams) (store.SweepResult, error) {
	res, err := l.Store.Sweep(ctx, p)
	l.mu.Lock()
	l.calls = append(l.calls, sweepCall{p.Limit, res})
	l.mu.Unlock()
	return res, err
}

// total sums the calls and asserts each stayed within its limit and within
// batch (B1).
func (l *sweepLog) total(t *testing.T, batch int) (store.SweepResult, int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum store.SweepResult
	for i, c := range l.calls {
		require.LessOrEqual(t, c.limit, batch, "call %d", i)
		n := c.res.Messages + c.res.Claims + c.res.Dedup
		require.LessOrEqual(t, n, c.limit, "call %d removed more than its limit", i)
		sum.Messages += c.res.Messages
		sum.Claims += c.res.Claims
		sum.Dedup += c.res.Dedup
	}
	return sum, len(l.calls)
}

// Sizes of the mass expiry.
const (
	massMessages = 100_000
	massClaims   = 20   // of 50 messages each
	massDedup    = 1000 // messages posted with a DedupID
	massBatch    = 1000 // the default SweepBatch
)

// massWorld is what populateMass made.
type massWorld struct {
	sample []herald.ID // first, middle and last message
	claims []herald.ID
}

// populateMass posts massMessages with a 1 h TTL in batches of 1,000 (the
// first batch with DedupIDs) and makes massClaims claims of 10 minutes.
func populateMass(t *testing.T, q *herald.Queue) massWorld {
	ctx := context.Background()
	var w massWorld
	drafts := make([]herald.Draft, 1000)
	for b := 0; b < massMessages/len(drafts); b++ {
		for i := range drafts {
			drafts[i] = herald.Draft{Body: []byte("x"), TTL: time.Hour}
			if n := b*len(drafts) + i; n < massDedup {
				drafts[i].DedupID = fmt.Sprint("d", n)
			}
		}
		ids, err := q.Post(ctx, drafts...)
		require.NoError(t, err)
		switch b {
		case 0:
			w.sample = append(w.sample, ids[0])
		case massMessages / len(drafts) / 2:
			w.sample = append(w.sample, ids[len(ids)/2])
		case massMessages/len(drafts) - 1:
			w.sample = append(w.sample, ids[len(ids)-1])
		}
	}
	for range massClaims {
		c, err := q.Claim(ctx, herald.ClaimOptions{TTL: 10 * time.Minute, Limit: 50})
		require.NoError(t, err)
		require.Len(t, c.Messages, 50)
		w.claims = append(w.claims, c.ID)
	}
	return w
}

// requireAllInvisible asserts B4 by reads alone: after the step nothing of
// the mass is visible, whether or not a sweep has run.
func requireAllInvisible(t *testing.T, q *herald.Queue, w massWorld) {
	ctx := context.Background()
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, herald.Stats{}, st)
	msgs, err := q.List(ctx, herald.ListOptions{IncludeClaimed: true, IncludeDelayed: true, Limit: 1000})
	require.NoError(t, err)
	require.Empty(t, msgs)
	got, err := q.GetMany(ctx, w.sample...)
	require.NoError(t, err)
	require.Empty(t, got)
	for _, id := range w.claims {
		_, err := q.GetClaim(ctx, id)
		require.ErrorIs(t, err, herald.ErrClaimNotFound)
	}
}

// requireWritesSeeNothing asserts what writes see after the step: nothing
// to claim, claims gone, dedup entries forgotten.
func requireWritesSeeNothing(t *testing.T, q *herald.Queue, w massWorld) {
	ctx := context.Background()
	c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1000})
	require.NoError(t, err)
	require.Empty(t, c.Messages)
	require.ErrorIs(t, q.ClaimByID(w.claims[0]).Renew(ctx, time.Minute), herald.ErrClaimNotFound)
	ids, err := q.Post(ctx, herald.Draft{Body: []byte("y"), DedupID: "d0"})
	require.NoError(t, err)
	require.NotEqual(t, w.sample[0], ids[0], "the dedup entry expired with the window")
}

// B1 + B4 on memory with the real background sweeper: 100,000 messages (20
// claims, 1,000 dedup entries) expire in one 24 h step. Everything is
// invisible at once, and the sweeper removes it all in calls of at most
// SweepBatch items.
//
// The memory store also applies due work when a queue is touched (in steps
// of at most 1,000 items with the queue's lock released between them, B1;
// memory/catchup_test.go proves the steps), so a read before the sweep
// removes the expired items itself: the two orders are run separately.
func TestMassExpiryMemory(t *testing.T) {
	t.Run("sweeper-first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			log := &sweepLog{Store: newMemory()}
			svc, err := herald.New(herald.Options{Store: log, SweepInterval: 24*time.Hour + time.Minute})
			require.NoError(t, err)
			defer svc.Close()
			q := svc.Queue("bulk")
			w := populateMass(t, q)

			time.Sleep(24 * time.Hour)
			synctest.Wait()
			_, calls := log.total(t, massBatch)
			require.Zero(t, calls, "no sweep yet")

			time.Sleep(time.Minute) // the sweeper's tick
			synctest.Wait()
			sum, calls := log.total(t, massBatch)
			require.Equal(t, store.SweepResult{Messages: massMessages, Claims: massClaims, Dedup: massDedup}, sum)
			items := massMessages + massClaims + massDedup
			require.GreaterOrEqual(t, calls, (items+massBatch-1)/massBatch)
			require.LessOrEqual(t, calls, (items+massBatch-1)/massBatch+1)
			requireAllInvisible(t, q, w)
			requireWritesSeeNothing(t, q, w)
		})
	})
	t.Run("reads-first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			log := &sweepLog{Store: newMemory()}
			svc, err := herald.New(herald.Options{Store: log, SweepInterval: 24*time.Hour + time.Minute})
			require.NoError(t, err)
			defer svc.Close()
			q := svc.Queue("bulk")
			w := populateMass(t, q)

			time.Sleep(24 * time.Hour)
			synctest.Wait()
			requireAllInvisible(t, q, w)
			requireWritesSeeNothing(t, q, w)
			_, calls := log.total(t, massBatch)
			require.Zero(t, calls, "invisible before any sweep (B4)")

			time.Sleep(time.Minute)
			synctest.Wait()
			_, calls = log.total(t, massBatch)
			require.Positive(t, calls, "the sweeper ran, within its batch")
		})
	})
}

// B1 + B4 on bolt: the same mass expiry, reads first (bolt reads never
// write, so they leave all of it to the sweep), then Service.Sweep by hand
// in bounded transactions: one store Sweep call is one bbolt transaction.
// (A write first would catch the queue up in bounded commits of its own;
// bolt/catchup_test.go proves those.)
func TestMassExpiryBolt(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 messages through fsync'd commits; skipped with -short")
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "herald.db"), nil)
	require.NoError(t, err)
	log := &sweepLog{Store: st}
	clk := newClock()
	svc := clockService(t, log, clk)
	q := svc.Queue("bulk")
	w := populateMass(t, q)

	clk.Advance(24 * time.Hour)
	requireAllInvisible(t, q, w)
	_, calls := log.total(t, massBatch)
	require.Zero(t, calls)

	got, err := svc.Sweep(context.Background())
	require.NoError(t, err)
	sum, calls := log.total(t, massBatch)
	want := store.SweepResult{Messages: massMessages, Claims: massClaims, Dedup: massDedup}
	require.Equal(t, want, sum)
	require.Equal(t, want, got)
	items := massMessages + massClaims + massDedup
	require.GreaterOrEqual(t, calls, (items+massBatch-1)/massBatch)
	require.LessOrEqual(t, calls, (items+massBatch-1)/massBatch+1, "bounded transactions")
	t.Logf("bolt: %d items swept in %d transactions", items, calls)

	requireAllInvisible(t, q, w)
	requireWritesSeeNothing(t, q, w)
	require.NoError(t, st.Verify(context.Background()))
}
