package herald_test

// Stress (RELIABILITY.md suite 4): producers × consumers in {1×1, 8×8, 32×8,
// 8×32} on both stores, under -race in CI.
//
// TestStressHealthy: consumers claim with Wait and delete through the
// claim on the real clock with a minute-long claim TTL, so every acked
// post must be delivered and deleted exactly once.
//
// TestStressUnhealthy: consumers abandon claims, overrun their lease and
// then delete with the stale claim ID, or release. Expiry is driven by a
// hand-advanced clock (Options.Now), not by real time: the test never
// sleeps and never waits a real claim TTL (herald's minimum is 1 s, which
// would make each shape take seconds and its outcome depend on the
// machine's speed). The clock only moves while no consumer is inside a
// store call: every consumer step holds the clock's read lock, and
// advancing takes the write lock. So each consumer step acts at one known
// instant, a consumer that checked its claim is still live knows it stays
// live for the whole step (only its holder, expiry or a purge end a claim),
// and claim intervals can be recorded exactly in the store's time. The
// clock moves when a consumer finds nothing to claim (one step) and when a
// consumer overruns its lease (to the claim's expiry). Claims use Wait 0,
// since blocking claims wait on runtime timers.
//
// What is checked there: at-least-once (every acked post is deleted by a
// live claim holder or dead-lettered, exactly one of the two, once); the
// claim counts a message reports over its grants are exactly 1..k with k ≤
// the max claim count; live claim intervals of one message never overlap
// (grant k+1 starts no earlier than grant k ended: expiry, release or
// delete); a stale claim ID never deletes a message under a newer live
// claim (it gets ErrClaimMismatch and the holder still finds the message
// under its claim) nor a message at all (it gets ErrNotClaimed or
// ErrClaimMismatch, or ErrMessageGone when a message named is gone, as
// when a newer claimant already deleted it; never nil, C3); and the
// dead-letter queue holds exactly the messages claimed _max_claim_count
// times and not deleted, each once, unclaimed.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

type stressBackend struct {
	name string
	open func(t *testing.T) store.Store
	// healthy and unhealthy are the messages per shape; index 0 is 1×1.
	healthy, unhealthy [2]int
}

var stressBackends = []stressBackend{
	{
		name:    "memory",
		open:    func(*testing.T) store.Store { return memory.New() },
		healthy: [2]int{2000, 8000}, unhealthy: [2]int{1000, 4000},
	},
	{
		name: "bolt",
		open: func(t *testing.T) store.Store {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "stress.db"), nil)
			require.NoError(t, err)
			return st
		},
		// Every post, claim and delete is an fsync'd (group) commit.
		healthy: [2]int{300, 1000}, unhealthy: [2]int{150, 400},
	},
}

var stressShapes = []struct{ producers, consumers int }{{1, 1}, {8, 8}, {32, 8}, {8, 32}}

// stressSize returns the number of messages for a shape. -short quarters
// it, to keep short runs short; HERALD_STRESS_SCALE=k multiplies it by k
// for soak runs.
func stressSize(sizes [2]int, producers, consumers int) int {
	n := sizes[1]
	if producers == 1 && consumers == 1 {
		n = sizes[0]
	}
	if testing.Short() {
		n /= 4
	}
	return n * soakScale("HERALD_STRESS_SCALE")
}

// soakScale returns the positive integer in environment variable name, or 1.
func soakScale(name string) int {
	if k, err := strconv.Atoi(os.Getenv(name)); err == nil && k > 0 {
		return k
	}
	return 1
}

// stressProduce posts n messages with unique bodies from producers
// goroutines in batches of 1–5, and returns the acked bodies.
func stressProduce(ctx context.Context, q *herald.Queue, producers, n int, ttl time.Duration, fail func(error)) map[string]bool {
	var mu sync.Mutex
	acked := make(map[string]bool, n)
	var wg sync.WaitGroup
	for p := range producers {
		share := n / producers
		if p < n%producers {
			share++
		}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 7))
			for i := 0; i < share; {
				k := min(1+r.IntN(5), share-i)
				drafts := make([]herald.Draft, k)
				for j := range drafts {
					drafts[j] = herald.Draft{Body: fmt.Appendf(nil, "p%d-%d", p, i+j), TTL: ttl}
				}
				if _, err := q.Post(ctx, drafts...); err != nil {
					fail(fmt.Errorf("post: %w", err))
					return
				}
				mu.Lock()
				for _, d := range drafts {
					acked[string(d.Body)] = true
				}
				mu.Unlock()
				i += k
			}
		})
	}
	wg.Wait()
	return acked
}

// stressTally compares what was acked with what came out.
type stressTally struct{ lost, dup, unexpected int }

func tally(acked map[string]bool, out map[string]int) stressTally {
	var s stressTally
	for b := range acked {
		switch out[b] {
		case 0:
			s.lost++
		case 1:
		default:
			s.dup++
		}
	}
	for b := range out {
		if !acked[b] {
			s.unexpected++
		}
	}
	return s
}

// stressErrs collects errors from goroutines; the first few are reported.
type stressErrs struct {
	mu   sync.Mutex
	errs []error
}

func (e *stressErrs) add(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *stressErrs) check(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.errs); n > 0 {
		t.Fatalf("%d errors, first: %v", n, errors.Join(e.errs[:min(n, 5)]...))
	}
}

func TestStressHealthy(t *testing.T) {
	for _, be := range stressBackends {
		for _, sh := range stressShapes {
			t.Run(fmt.Sprintf("%s/%dx%d", be.name, sh.producers, sh.consumers), func(t *testing.T) {
				stressHealthy(t, be, sh.producers, sh.consumers)
			})
		}
	}
}

func stressHealthy(t *testing.T, be stressBackend, producers, consumers int) {
	n := stressSize(be.healthy, producers, consumers)
	svc, err := herald.New(herald.Options{Store: be.open(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	q := svc.Queue("stress")

	// The deadline only bounds a hung run; the consumers cancel ctx as
	// soon as the last acked message is deleted.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs stressErrs
	var (
		mu        sync.Mutex
		deleted   = make(map[string]int, n)
		delivered = make(map[string]int, n)
		nDeleted  atomic.Int64
		nAcked    atomic.Int64
		produced  atomic.Bool
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() {
			for {
				c, err := q.Claim(ctx, herald.ClaimOptions{TTL: time.Minute, Limit: 5, Wait: time.Second})
				if err != nil {
					if ctx.Err() == nil {
						errs.add(fmt.Errorf("claim: %w", err))
					}
					return
				}
				if len(c.Messages) == 0 {
					continue
				}
				ids := make([]herald.ID, len(c.Messages))
				for i, m := range c.Messages {
					ids[i] = m.ID
				}
				mu.Lock()
				for _, m := range c.Messages {
					delivered[string(m.Body)]++
				}
				mu.Unlock()
				if err := c.Delete(ctx, ids...); err != nil {
					errs.add(fmt.Errorf("delete through claim %s: %w", c.ID, err))
					return
				}
				mu.Lock()
				for _, m := range c.Messages {
					deleted[string(m.Body)]++
				}
				mu.Unlock()
				if nDeleted.Add(int64(len(ids))) >= nAcked.Load() && produced.Load() {
					cancel()
				}
			}
		})
	}
	acked := stressProduce(ctx, q, producers, n, 0, errs.add)
	nAcked.Store(int64(len(acked)))
	produced.Store(true)
	if nDeleted.Load() >= int64(len(acked)) {
		cancel()
	}
	wg.Wait()
	elapsed := time.Since(start)
	errs.check(t)
	require.NotErrorIs(t, ctx.Err(), context.DeadlineExceeded, "consumers did not drain the queue in time")

	got, redelivered := tally(acked, deleted), tally(acked, delivered)
	t.Logf("%d messages, %d×%d, %v: lost %d, duplicated %d, unexpected %d (redelivered %d)",
		len(acked), producers, consumers, elapsed.Round(time.Millisecond), got.lost, got.dup, got.unexpected, redelivered.dup)
	require.Len(t, acked, n)
	require.Equal(t, stressTally{}, got, "every acked post deleted exactly once")
	require.Equal(t, stressTally{}, redelivered, "a live minute-long claim is never handed out twice")
	stats, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, stats.Total)
}

// stressClock is the hand-advanced clock of TestStressUnhealthy. Consumer
// steps hold mu for reading; advancing holds it for writing.
type stressClock struct {
	mu  sync.RWMutex
	now atomic.Int64
}

func (c *stressClock) Now() time.Time { return time.Unix(0, c.now.Load()) }

// advanceTo moves the clock to t if it is earlier.
func (c *stressClock) advanceTo(t int64) {
	c.mu.Lock()
	if t > c.now.Load() {
		c.now.Store(t)
	}
	c.mu.Unlock()
}

// stressGrant is one claim of one message, in the store's time.
type stressGrant struct {
	body    string
	claim   herald.ID
	count   int   // the message's claim count as the claim reported it
	granted int64 // the instant of the claim
	expires int64
	ended   int64 // release or delete instant by the holder; 0 if none
	deleted bool  // the holder deleted the message through this claim
}

const (
	stressMaxClaims = 3
	stressClaimTTL  = 30 * time.Second
	stressStep      = time.Second // the clock step of an empty claim
)

func TestStressUnhealthy(t *testing.T) {
	for _, be := range stressBackends {
		for _, sh := range stressShapes {
			t.Run(fmt.Sprintf("%s/%dx%d", be.name, sh.producers, sh.consumers), func(t *testing.T) {
				stressUnhealthy(t, be, sh.producers, sh.consumers)
			})
		}
	}
}

func stressUnhealthy(t *testing.T, be stressBackend, producers, consumers int) {
	n := stressSize(be.unhealthy, producers, consumers)
	clk := &stressClock{}
	clk.now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	svc, err := herald.New(herald.Options{Store: be.open(t), Now: clk.Now, SweepInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	q := svc.Queue("stress")
	dlq := svc.Queue("stress-dlq")
	_, err = q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
		MaxClaimCount: stressMaxClaims, DeadLetterQueue: dlq.Name(),
	}))
	require.NoError(t, err)

	var errs stressErrs
	var (
		mu       sync.Mutex
		grants   = map[herald.ID][]*stressGrant{} // by message
		produced atomic.Bool
		done     atomic.Bool
		// outcomes of deletes through stale claims, by error
		staleMismatch, staleNotClaimed, staleGone, probes atomic.Int64
		abandoned, overran, released, finished            atomic.Int64
	)
	// prevClaim returns the claim that held a message before grant count.
	prevClaim := func(id herald.ID, count int) (herald.ID, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, g := range grants[id] {
			if g.count == count-1 {
				return g.claim, true
			}
		}
		return herald.ID{}, false
	}
	end := func(c *herald.Claim, at int64, deleted bool) {
		mu.Lock()
		for _, m := range c.Messages {
			for _, g := range grants[m.ID] {
				if g.claim == c.ID {
					g.ended, g.deleted = at, deleted
				}
			}
		}
		mu.Unlock()
	}
	idsOf := func(c *herald.Claim) []herald.ID {
		ids := make([]herald.ID, len(c.Messages))
		for i, m := range c.Messages {
			ids[i] = m.ID
		}
		return ids
	}

	// staleDelete deletes c's messages through c after its lease ran out.
	// Call with the clock read-locked.
	staleDelete := func(c *herald.Claim) {
		ids := idsOf(c)
		err := c.Delete(ctx, ids...)
		switch {
		case errors.Is(err, herald.ErrClaimMismatch):
			staleMismatch.Add(1)
		case errors.Is(err, herald.ErrMessageGone):
			// Only right if a message named is gone.
			staleGone.Add(1)
			if left, err := q.GetMany(ctx, ids...); err != nil {
				errs.add(err)
			} else if len(left) == len(ids) {
				errs.add(fmt.Errorf("delete through expired claim %s: ErrMessageGone, but every message it names is stored", c.ID))
			}
		case errors.Is(err, herald.ErrNotClaimed):
			staleNotClaimed.Add(1)
		case err == nil:
			errs.add(fmt.Errorf("delete through expired claim %s returned nil: a stale claim settled %v (C3)", c.ID, ids))
		default:
			errs.add(fmt.Errorf("delete through expired claim %s: %w", c.ID, err))
		}
	}

	// finish deletes c's messages through c if it is still live, first
	// checking that the claim before it cannot delete them. Call with the
	// clock read-locked.
	finish := func(c *herald.Claim, now int64) {
		if now >= c.Expires.UnixNano() {
			overran.Add(1)
			staleDelete(c)
			return
		}
		ids := idsOf(c)
		for _, m := range c.Messages {
			prev, ok := prevClaim(m.ID, m.ClaimCount)
			if !ok {
				continue
			}
			probes.Add(1)
			if err := q.ClaimByID(prev).Delete(ctx, m.ID); !errors.Is(err, herald.ErrClaimMismatch) {
				errs.add(fmt.Errorf("delete of %s through stale claim %s while claim %s holds it: got %v, want ErrClaimMismatch", m.ID, prev, c.ID, err))
			}
		}
		held, err := q.GetMany(ctx, ids...)
		if err != nil {
			errs.add(err)
			return
		}
		if len(held) != len(ids) {
			errs.add(fmt.Errorf("claim %s is live but holds %d of its %d messages", c.ID, len(held), len(ids)))
		}
		for _, m := range held {
			if m.ClaimID != c.ID {
				errs.add(fmt.Errorf("message %s under live claim %s reports claim %s", m.ID, c.ID, m.ClaimID))
			}
		}
		if err := c.Delete(ctx, ids...); err != nil {
			errs.add(fmt.Errorf("delete through live claim %s: %w", c.ID, err))
			return
		}
		finished.Add(1)
		end(c, now, true)
	}

	consume := func(seed uint64) {
		r := rand.New(rand.NewPCG(seed, 11))
		for !done.Load() && ctx.Err() == nil {
			clk.mu.RLock()
			now := clk.now.Load()
			c, err := q.Claim(ctx, herald.ClaimOptions{TTL: stressClaimTTL, Limit: 1 + r.IntN(4)})
			if err != nil {
				clk.mu.RUnlock()
				errs.add(fmt.Errorf("claim: %w", err))
				return
			}
			if len(c.Messages) == 0 {
				clk.mu.RUnlock()
				if produced.Load() {
					st, err := q.Stats(ctx)
					if err != nil {
						errs.add(err)
						return
					}
					if st.Total == 0 {
						done.Store(true)
						return
					}
				}
				clk.advanceTo(now + int64(stressStep))
				continue
			}
			if got := c.Expires.UnixNano() - int64(stressClaimTTL); got != now {
				errs.add(fmt.Errorf("claim %s made at %d, want the clock's %d", c.ID, got, now))
			}
			mu.Lock()
			for _, m := range c.Messages {
				grants[m.ID] = append(grants[m.ID], &stressGrant{
					body: string(m.Body), claim: c.ID, count: m.ClaimCount,
					granted: now, expires: c.Expires.UnixNano(),
				})
			}
			mu.Unlock()
			x := r.IntN(100)
			switch {
			case x < 20: // abandon: never delete; let the claim expire
				abandoned.Add(1)
				clk.mu.RUnlock()
			case x < 40: // overrun the lease, then delete with the stale ID
				clk.mu.RUnlock()
				clk.advanceTo(c.Expires.UnixNano())
				clk.mu.RLock()
				overran.Add(1)
				staleDelete(c)
				clk.mu.RUnlock()
			case x < 50: // give the messages back
				if err := c.Release(ctx, 0); err != nil {
					errs.add(fmt.Errorf("release: %w", err))
				}
				released.Add(1)
				end(c, now, false)
				clk.mu.RUnlock()
			default: // healthy, but the lease may have run out meanwhile
				clk.mu.RUnlock()
				clk.mu.RLock()
				finish(c, clk.now.Load())
				clk.mu.RUnlock()
			}
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Go(func() { consume(uint64(i)) })
	}
	acked := stressProduce(ctx, q, producers, n, 14*24*time.Hour, errs.add)
	produced.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	errs.check(t)
	require.NoError(t, ctx.Err(), "consumers did not drain the queue in time")
	require.Len(t, acked, n)

	// What came out: deleted by a live holder, or dead-lettered.
	out := map[string]int{}
	deletedBy := map[string]int{}
	for _, gs := range grants {
		for _, g := range gs {
			if g.deleted {
				out[g.body]++
				deletedBy[g.body] = g.count
			}
		}
	}
	dead := map[string]bool{}
	var marker herald.ID
	for {
		page, err := dlq.List(context.Background(), herald.ListOptions{Marker: marker, Limit: 1000, IncludeClaimed: true, IncludeDelayed: true})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			out[string(m.Body)]++
			require.False(t, dead[string(m.Body)], "dead-lettered twice: %s", m.Body)
			dead[string(m.Body)] = true
			require.Zero(t, m.ClaimCount, "a dead-lettered message starts unclaimed")
			require.True(t, m.ClaimID.IsZero())
		}
		marker = page[len(page)-1].ID
	}
	got := tally(acked, out)

	// Claim counts, intervals and the dead-letter count.
	overlaps, badCounts, dlqWrong := 0, 0, 0
	for id, gs := range grants {
		sort.Slice(gs, func(i, j int) bool { return gs[i].count < gs[j].count })
		for i, g := range gs {
			if g.count != i+1 || g.count > stressMaxClaims {
				badCounts++
				t.Errorf("message %s (%s): grant %d reports claim count %d (max %d)", id, g.body, i+1, g.count, stressMaxClaims)
			}
			if i == 0 {
				continue
			}
			p := gs[i-1]
			pend := p.expires
			if p.ended != 0 {
				pend = min(pend, p.ended)
			}
			if p.deleted || g.granted < pend {
				overlaps++
				t.Errorf("message %s (%s): claim %s [%d, %d) deleted=%v overlaps claim %s from %d",
					id, g.body, p.claim, p.granted, pend, p.deleted, g.claim, g.granted)
			}
		}
		last := gs[len(gs)-1]
		if dead[last.body] != (len(gs) == stressMaxClaims && !last.deleted) {
			dlqWrong++
			t.Errorf("message %s (%s): claimed %d times, deleted %v, dead-lettered %v", id, last.body, len(gs), last.deleted, dead[last.body])
		}
	}
	t.Logf("%d messages, %d×%d, %v: lost %d, duplicated %d, unexpected %d; overlaps %d, bad claim counts %d; "+
		"dead-lettered %d (wrong %d), deleted %d; claims abandoned %d, overran %d, released %d, finished %d; "+
		"expired-claim deletes: mismatch %d, not claimed %d, gone %d; stale probes %d; clock +%v",
		len(acked), producers, consumers, elapsed.Round(time.Millisecond), got.lost, got.dup, got.unexpected,
		overlaps, badCounts, len(dead), dlqWrong, len(deletedBy), abandoned.Load(), overran.Load(), released.Load(), finished.Load(),
		staleMismatch.Load(), staleNotClaimed.Load(), staleGone.Load(), probes.Load(),
		time.Duration(clk.now.Load()-time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()))
	require.Equal(t, stressTally{}, got, "every acked post deleted or dead-lettered, exactly once")
	require.Zero(t, overlaps+badCounts+dlqWrong)
	stats, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.Zero(t, stats.Total)
}
