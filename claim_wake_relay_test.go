package herald_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// C7, B2: a post of a free and a delayed message wakes the oldest
// sleeper for both; it takes the free one and returns. Nobody learned
// when the delayed one becomes claimable, so the next sleeper slept on
// beside it once its delay ended: a lost wake-up. A woken claimer that
// takes fewer messages than its wake was for must hand a wake on, so that
// someone finds the queue empty and learns its next deadline.
func TestBlockingClaimDelayedPartOfWakeNotLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		ctx := t.Context()
		first := claimAsync(ctx, q, herald.ClaimOptions{Wait: time.Hour, Limit: 2})
		synctest.Wait()
		second := claimAsync(ctx, q, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
		synctest.Wait()

		_, err := q.Post(ctx, herald.Draft{Body: []byte("now")}, herald.Draft{Body: []byte("later"), Delay: 5 * time.Second})
		require.NoError(t, err)
		synctest.Wait()
		r := <-first
		require.NoError(t, r.err)
		require.Equal(t, []string{"now"}, bodies(r.c.Messages))
		requireAsleep(t, second)

		time.Sleep(6 * time.Second)
		synctest.Wait()
		select {
		case r := <-second:
			require.NoError(t, r.err)
			require.Equal(t, []string{"later"}, bodies(r.c.Messages), "woken when the delay ended (B2)")
		default:
			st, err := q.Stats(ctx)
			require.NoError(t, err)
			t.Fatalf("the second claimer sleeps while %d message(s) are free", st.Free)
		}
	})
}
