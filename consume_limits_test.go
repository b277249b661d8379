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

// L1, J1: Consume's give-up move to a missing dead-letter queue creates
// it past the project's queue limit, as the store's own move does (C6):
// a limit never strands a message. The failure this prevents: the move's
// post was refused with ErrTooMany, so the message stayed under its
// claim, came back each lease and was given up again, for ever.
func TestConsumeGiveUpPastQueueLimit(t *testing.T) {
	t.Run("one store", func(t *testing.T) { testConsumeGiveUpPastQueueLimit(t, false) })
	t.Run("pools", func(t *testing.T) { testConsumeGiveUpPastQueueLimit(t, true) })
}

func testConsumeGiveUpPastQueueLimit(t *testing.T, pooled bool) {
	synctest.Test(t, func(t *testing.T) {
		log, buf := quietLog()
		edit := func(o *herald.Options) {
			o.Limits.MaxQueuesPerProject = 2
			o.Logger = log
		}
		var svc *herald.Service
		if pooled {
			svc = newPooled(t, []herald.Pool{memPool("a", 1)}, edit)
		} else {
			svc = newService(t, edit)
		}
		ctx := t.Context()
		q := svc.Queue("jobs")
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: "dlq"}))
		require.NoError(t, err)
		require.NoError(t, svc.Queue("dlq").DeleteQueue(ctx)) // with pools, Create placed it
		_, err = svc.Queue("other").Create(ctx, nil)
		require.NoError(t, err) // the project is at its limit
		post(t, q, "poison")
		runs := 0
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(context.Context, herald.Message) error {
			runs++
			return herald.Permanent(errors.New("cannot parse"))
		}, herald.ConsumeOptions{Logger: log, LeaseTTL: time.Minute})
		time.Sleep(10 * time.Minute)
		cancel()
		require.NoError(t, <-done)
		require.Equal(t, 1, runs)
		require.Zero(t, total(t, q), "given up:\n%s", buf)
		require.Equal(t, int64(1), total(t, svc.Queue("dlq")), "moved to the dead-letter queue")
	})
}
