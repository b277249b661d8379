package herald_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// claimAsync starts a blocking claim and returns where its result lands.
func claimAsync(ctx context.Context, q *herald.Queue, o herald.ClaimOptions) <-chan claimResult {
	ch := make(chan claimResult, 1)
	go func() {
		c, err := q.Claim(ctx, o)
		ch <- claimResult{c, err}
	}()
	return ch
}

type claimResult struct {
	c   *herald.Claim
	err error
}

// C7: a waiting claimer is woken by a post, in-process, with no polling:
// under synctest no fake time passes between the post and the claim.
func TestBlockingClaimWokenByPost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		got := claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Minute})
		synctest.Wait() // the claimer is asleep
		start := time.Now()
		post(t, q, "hello")
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, []string{"hello"}, bodies(r.c.Messages))
		require.Zero(t, time.Since(start), "woken without any timer")
	})
}

// C7 + B2: a waiting claimer gets messages whose claim expired, woken by
// the scheduler exactly at the expiry.
func TestBlockingClaimWokenByClaimExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "a")
		first, err := q.Claim(t.Context(), herald.ClaimOptions{TTL: 30 * time.Second})
		require.NoError(t, err)
		require.Len(t, first.Messages, 1)

		got := claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour})
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, []string{"a"}, bodies(r.c.Messages))
		require.Equal(t, first.Expires, time.Now(), "woken at the first claim's expiry")
		require.NotEqual(t, first.ID, r.c.ID)
	})
}

// C7 + C5: release wakes a waiter at once; a delayed release at its delay.
func TestBlockingClaimWokenByRelease(t *testing.T) {
	for _, delay := range []time.Duration{0, 7 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newService(t)
				q := svc.Queue("jobs")
				post(t, q, "a")
				held, err := q.Claim(t.Context(), herald.ClaimOptions{})
				require.NoError(t, err)

				got := claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour})
				synctest.Wait()
				start := time.Now()
				require.NoError(t, held.Release(t.Context(), delay))
				r := <-got
				require.NoError(t, r.err)
				require.Equal(t, []string{"a"}, bodies(r.c.Messages))
				require.Equal(t, delay, time.Since(start))
			})
		})
	}
}

// C7 + M5: a delayed post wakes a waiter when its delay ends.
func TestBlockingClaimWokenByDelayEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		got := claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour})
		synctest.Wait()
		start := time.Now()
		_, err := q.Post(t.Context(), herald.Draft{Body: []byte("later"), Delay: 90 * time.Second})
		require.NoError(t, err)
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, []string{"later"}, bodies(r.c.Messages))
		require.Equal(t, 90*time.Second, time.Since(start))
	})
}

// C7: a wait that ends empty-handed returns an empty claim and no error;
// ctx ending returns ctx's error.
func TestBlockingClaimEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		start := time.Now()
		c, err := q.Claim(t.Context(), herald.ClaimOptions{Wait: 3 * time.Second})
		require.NoError(t, err)
		require.Empty(t, c.Messages)
		require.True(t, c.ID.IsZero())
		require.Equal(t, 3*time.Second, time.Since(start))
		require.ErrorIs(t, c.Renew(t.Context(), 0), herald.ErrClaimNotFound)
		require.ErrorIs(t, c.Delete(t.Context(), herald.ID{1}), herald.ErrClaimNotFound)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = q.Claim(ctx, herald.ClaimOptions{Wait: time.Hour})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// C7: many waiters, a few messages: each message goes to exactly one.
func TestBlockingClaimManyWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		const waiters = 8
		results := make([]<-chan claimResult, waiters)
		for i := range results {
			results[i] = claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Minute, Limit: 1})
		}
		synctest.Wait()
		post(t, q, "a", "b", "c")
		seen := map[string]int{}
		for _, ch := range results {
			r := <-ch
			require.NoError(t, r.err)
			for _, b := range bodies(r.c.Messages) {
				seen[b]++
			}
		}
		require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, seen)
	})
}

// B3: Close wakes blocked claimers, which return ErrClosed.
func TestCloseWakesBlockedClaimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, err := herald.New(herald.Options{Store: newMemory()})
		require.NoError(t, err)
		got := claimAsync(context.Background(), svc.Queue("jobs"), herald.ClaimOptions{Wait: time.Hour})
		synctest.Wait()
		require.NoError(t, svc.Close())
		r := <-got
		require.True(t, errors.Is(r.err, herald.ErrClosed), "got %v", r.err)
	})
}
