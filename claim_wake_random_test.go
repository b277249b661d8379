package herald_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// C7 + B2 + C6 + X1: no lost wake-up. Random steps on a queue, jobs, and
// its dead-letter queue, dead: posts (some delayed, some through Tx),
// blocking claims (random limits and waits, some cancelled) and blocking
// DeleteAndClaim, claims that do not wait and take messages from under
// the sleepers, releases through the claim or through ClaimByID (whose
// count is unknown), some partial or delayed, deletes, Tx settles that
// post to the dead-letter queue, claims moved by C6, and the clock moving
// on, with the other steps and alone. Whenever everything has settled, a
// claimer asleep on a queue means nothing on it is claimable.
func TestBlockingClaimNoLostWakeup(t *testing.T) {
	for seed := range 60 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runNoLostWakeup(t, uint64(seed)) })
		})
	}
}

func runNoLostWakeup(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 14))
	svc := newService(t, func(o *herald.Options) { o.Logger, _ = quietLog() })
	ctx := t.Context()
	jobs, dead := svc.Queue("jobs"), svc.Queue("dead")
	_, err := jobs.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 2, DeadLetterQueue: "dead"}))
	require.NoError(t, err)
	_, err = dead.Create(ctx, nil)
	require.NoError(t, err)
	qs := []*herald.Queue{jobs, dead}
	index := map[string]int{"jobs": 0, "dead": 1}
	type sleeper struct {
		q      int
		got    <-chan claimResult
		cancel context.CancelFunc
	}
	var (
		asleep []sleeper
		held   []*herald.Claim
		mu     sync.Mutex // guards stolen: actions run side by side
		stolen []*herald.Claim
	)
	keep := func(c *herald.Claim) { mu.Lock(); stolen = append(stolen, c); mu.Unlock() }
	pick := rng.IntN
	ttl := func() time.Duration { return time.Duration(5+pick(55)) * time.Second }
	takeHeld := func() *herald.Claim {
		i := pick(len(held))
		c := held[i]
		held = append(held[:i], held[i+1:]...)
		return c
	}

	// settled collects the claimers that returned and checks that no
	// queue has both a sleeper and a free message.
	settled := func(step int) {
		synctest.Wait()
		still := asleep[:0]
		for _, s := range asleep {
			select {
			case r := <-s.got:
				s.cancel()
				if r.err == nil && len(r.c.Messages) > 0 {
					held = append(held, r.c)
				}
			default:
				still = append(still, s)
			}
		}
		asleep = still
		for qi, q := range qs {
			n := 0
			for _, s := range asleep {
				if s.q == qi {
					n++
				}
			}
			if n > 0 {
				st, err := q.Stats(ctx)
				require.NoError(t, err)
				require.Zero(t, st.Free, "seed %d step %d: %d claimers asleep on %s while messages are free", seed, step, n, q.Name())
			}
		}
	}

	for step := range 300 {
		// Up to four actions at once, chosen here, run concurrently.
		var wg sync.WaitGroup
		for range 1 + pick(4) {
			switch pick(10) {
			case 0, 1:
				qi := pick(2)
				cctx, cancel := context.WithCancel(ctx)
				// Most wait long: a claimer whose wait ends when the clock
				// moves is gone before the check and hides a lost wake.
				wait := []time.Duration{time.Second, time.Hour, time.Hour, time.Hour}[pick(4)]
				o := herald.ClaimOptions{Wait: wait, Limit: 1 + pick(3), TTL: ttl()}
				if qi == 0 && len(held) > 0 && pick(2) == 0 {
					c := takeHeld()
					ch := make(chan claimResult, 1)
					go func() {
						nc, err := c.DeleteAndClaim(cctx, o, c.Messages[0].ID)
						ch <- claimResult{nc, err}
					}()
					asleep = append(asleep, sleeper{index[c.Queue().Name()], ch, cancel})
				} else {
					asleep = append(asleep, sleeper{qi, claimAsync(cctx, qs[qi], o), cancel})
				}
			case 2:
				drafts := make([]herald.Draft, 1+pick(3))
				for i := range drafts {
					drafts[i].Body = []byte(fmt.Sprint(step, "/", i))
					if pick(4) == 0 {
						drafts[i].Delay = time.Duration(1+pick(20)) * time.Second
					}
				}
				q := qs[pick(2)]
				if pick(2) == 0 {
					wg.Go(func() {
						_, err := svc.Tx(ctx, func(tx *herald.Tx) error { tx.Post(q, drafts...); return nil })
						require.NoError(t, err)
					})
				} else {
					wg.Go(func() { _, err := q.Post(ctx, drafts...); require.NoError(t, err) })
				}
			case 3:
				if len(asleep) > 0 {
					asleep[pick(len(asleep))].cancel()
				}
			case 4:
				q := qs[pick(2)]
				o := herald.ClaimOptions{Limit: 1 + pick(2), TTL: ttl()}
				wg.Go(func() {
					c, err := q.Claim(ctx, o)
					require.NoError(t, err)
					if len(c.Messages) > 0 {
						keep(c)
					}
				})
			case 5, 6:
				if len(held) == 0 {
					break
				}
				c := takeHeld()
				var ids []herald.ID
				if pick(2) == 0 {
					ids = []herald.ID{c.Messages[0].ID}
				}
				byID := pick(2) == 0
				delay := time.Duration(0)
				if pick(3) == 0 {
					delay = time.Duration(1+pick(10)) * time.Second
				}
				wg.Go(func() {
					h := c
					if byID {
						h = c.Queue().ClaimByID(c.ID)
					}
					require.NoError(t, h.Release(ctx, delay, ids...))
				})
			case 7:
				d := time.Duration(pick(30)) * time.Second
				wg.Go(func() { time.Sleep(d) }) // fake time: claims and delays end
			case 8:
				if len(held) == 0 {
					break
				}
				c := takeHeld()
				wg.Go(func() { _ = c.Delete(ctx, c.Messages[0].ID) }) // may have expired: then it is another's
			case 9:
				if len(held) == 0 {
					break
				}
				c := takeHeld()
				wg.Go(func() {
					_, _ = svc.Tx(ctx, func(tx *herald.Tx) error { // may have expired
						tx.Post(dead, herald.Draft{Body: []byte("y")})
						tx.DeleteClaimed(c, c.Messages[0].ID)
						return nil
					})
				})
			}
		}
		wg.Wait()
		held, stolen = append(held, stolen...), nil

		settled(step)
		if pick(3) == 0 {
			// The clock alone moves on: delays and claims end with
			// nothing else to wake the sleepers but the scheduler.
			time.Sleep(time.Duration(1+pick(20)) * time.Second)
			settled(step)
		}
	}
	for _, s := range asleep {
		s.cancel()
		<-s.got
	}
}
