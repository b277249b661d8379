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

// C7 + C6 + X1: no lost wake-up where claims wait on a queue with a
// dead-letter queue and on the dead-letter queue itself. Random steps:
// posts (some delayed, some through Tx), blocking claims and blocking
// DeleteAndClaim, claims that do not wait, releases through the claim or
// through ClaimByID (whose count is unknown), some partial or delayed,
// deletes, Tx settles that post to the dead-letter queue, claims moved by
// C6, and the clock moving on. Whenever everything has settled, a claimer
// asleep on a queue means nothing on it is claimable.
func TestBlockingClaimNoLostWakeupMixed(t *testing.T) {
	for seed := range 40 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runNoLostWakeupMixed(t, uint64(seed)) })
		})
	}
}

func runNoLostWakeupMixed(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	svc := newService(t, func(o *herald.Options) { o.Logger, _ = quietLog() })
	ctx := t.Context()
	jobs, dead := svc.Queue("jobs"), svc.Queue("dead")
	_, err := jobs.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 2, DeadLetterQueue: "dead"}))
	require.NoError(t, err)
	_, err = dead.Create(ctx, nil)
	require.NoError(t, err)
	qs := []*herald.Queue{jobs, dead}
	type sleeper struct {
		q      int
		got    <-chan claimResult
		cancel context.CancelFunc
	}
	var (
		asleep []sleeper
		held   []*herald.Claim
		mu     sync.Mutex
		extra  []*herald.Claim
	)
	keep := func(c *herald.Claim) { mu.Lock(); extra = append(extra, c); mu.Unlock() }
	pick := rng.IntN
	ttl := func() time.Duration { return time.Duration(5+pick(30)) * time.Second }
	for step := range 300 {
		var wg sync.WaitGroup
		for range 1 + pick(4) {
			switch pick(10) {
			case 0, 1:
				qi := pick(2)
				cctx, cancel := context.WithCancel(ctx)
				o := herald.ClaimOptions{Wait: time.Hour, Limit: 1 + pick(3), TTL: ttl()}
				if len(held) > 0 && pick(2) == 0 && qi == 0 {
					i := pick(len(held))
					c := held[i]
					held = append(held[:i], held[i+1:]...)
					ch := make(chan claimResult, 1)
					go func() {
						nc, err := c.DeleteAndClaim(cctx, o, c.Messages[0].ID)
						ch <- claimResult{nc, err}
					}()
					di := 0
					if c.Queue().Name() == "dead" {
						di = 1
					}
					asleep = append(asleep, sleeper{di, ch, cancel})
				} else {
					asleep = append(asleep, sleeper{qi, claimAsync(cctx, qs[qi], o), cancel})
				}
			case 2:
				n := 1 + pick(3)
				drafts := make([]herald.Draft, n)
				for i := range drafts {
					drafts[i].Body = []byte("x")
					if pick(5) == 0 {
						drafts[i].Delay = time.Duration(1+pick(10)) * time.Second
					}
				}
				qi := pick(2)
				if pick(2) == 0 {
					wg.Go(func() {
						_, err := svc.Tx(ctx, func(tx *herald.Tx) error { tx.Post(qs[qi], drafts...); return nil })
						require.NoError(t, err)
					})
				} else {
					wg.Go(func() { _, err := qs[qi].Post(ctx, drafts...); require.NoError(t, err) })
				}
			case 3:
				if len(asleep) > 0 {
					asleep[pick(len(asleep))].cancel()
				}
			case 4:
				qi := pick(2)
				o := herald.ClaimOptions{Limit: 1 + pick(2), TTL: ttl()}
				wg.Go(func() {
					c, err := qs[qi].Claim(ctx, o)
					require.NoError(t, err)
					if len(c.Messages) > 0 {
						keep(c)
					}
				})
			case 5, 6:
				if len(held) == 0 {
					break
				}
				i := pick(len(held))
				c := held[i]
				held = append(held[:i], held[i+1:]...)
				var ids []herald.ID
				if pick(2) == 0 {
					ids = []herald.ID{c.Messages[0].ID}
				}
				byID := pick(2) == 0
				delay := time.Duration(0)
				if pick(4) == 0 {
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
				d := time.Duration(pick(20)) * time.Second
				wg.Go(func() { time.Sleep(d) })
			case 8:
				if len(held) == 0 {
					break
				}
				i := pick(len(held))
				c := held[i]
				held = append(held[:i], held[i+1:]...)
				wg.Go(func() { _ = c.Delete(ctx, c.Messages[0].ID) }) // may have expired: then it is another's
			case 9:
				if len(held) == 0 {
					break
				}
				i := pick(len(held))
				c := held[i]
				held = append(held[:i], held[i+1:]...)
				wg.Go(func() {
					_, _ = svc.Tx(ctx, func(tx *herald.Tx) error {
						tx.Post(dead, herald.Draft{Body: []byte("y")})
						tx.DeleteClaimed(c, c.Messages[0].ID)
						return nil
					})
				})
			}
		}
		wg.Wait()
		held, extra = append(held, extra...), nil
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
	for _, s := range asleep {
		s.cancel()
		<-s.got
	}
}
