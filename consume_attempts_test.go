package herald_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// Attempt counting and capping in Consume (J1, C6, issue 14 item 11).

// linesOf returns the log lines that mention id.
func linesOf(buf *bytes.Buffer, id herald.ID) []string {
	var out []string
	for l := range strings.Lines(buf.String()) {
		if strings.Contains(l, id.String()) {
			out = append(out, l)
		}
	}
	return out
}

// drain sleeps (fake time) until q is empty.
func drain(t *testing.T, q *herald.Queue) {
	t.Helper()
	synctest.Wait()
	for total(t, q) > 0 {
		time.Sleep(time.Second)
		synctest.Wait()
	}
}

// The scenario: messages Consume claimed but never started and
// handed back on a graceful stop do not burn attempts. Two restarts with
// a batch of 10 and one handler used to leave 8 messages claimed twice,
// and the next claim moved them to the dead-letter queue unhandled.
func TestConsumeUnstartedHandBackIsNoAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 2, DeadLetterQueue: "jobs.dead"}))
		require.NoError(t, err)
		for i := range 10 {
			post(t, q, strconv.Itoa(i))
		}
		log, _ := quietLog()
		var a attempts
		o := herald.ConsumeOptions{Batch: 10, Logger: log}
		for round := range 2 {
			stopping := make(chan struct{})
			cctx, cancel := context.WithCancel(ctx)
			done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
				a.add(m)
				<-stopping // busy until the stop; then it finishes in time
				return nil
			}, o)
			synctest.Wait()
			require.Len(t, a.calls, round+1, "round %d: one handler started", round)
			cancel()
			synctest.Wait() // the unstarted messages are back
			close(stopping)
			require.NoError(t, <-done)
			require.Equal(t, int64(9-round), total(t, q))
		}

		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			return nil
		}, o)
		drain(t, q)
		cancel()
		require.NoError(t, <-done)
		require.Len(t, a.calls, 10, "every message handled, once")
		for _, c := range a.calls {
			require.Equal(t, 1, c.n, "message %s: its first attempt", c.body)
		}
		_, err = svc.Queue("jobs.dead").Stats(ctx)
		require.ErrorIs(t, err, herald.ErrNotFound, "nothing dead-lettered")
	})
}

// An attempt cut short at the stop deadline was started: it counts.
func TestConsumeStopDeadlineCountsAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "slow")
		var a attempts
		for range 2 {
			cctx, cancel := context.WithCancel(t.Context())
			done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
				a.add(m)
				<-ctx.Done()
				return ctx.Err()
			}, herald.ConsumeOptions{StopTimeout: time.Second})
			synctest.Wait()
			cancel()
			require.NoError(t, <-done)
		}
		require.Equal(t, []int{1, 2}, []int{a.calls[0].n, a.calls[1].n})
	})
}

// C6 through Consume, logged: the failing last attempt moves the message
// itself, and the log says so with the message's ID, its attempts and the
// last error. No line about it says "will retry" after the last attempt.
func TestConsumeDeadLetterIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 3, DeadLetterQueue: "dlq"}))
		require.NoError(t, err)
		id := post(t, q, "bad")[0]
		log, buf := quietLog()
		var a attempts
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			return errors.New("disk on fire " + strconv.Itoa(m.ClaimCount))
		}, herald.ConsumeOptions{Logger: log, Backoff: herald.Backoff{Min: time.Second, Jitter: -1}})
		time.Sleep(time.Minute)
		cancel()
		require.NoError(t, <-done)
		require.Len(t, a.of("bad"), 3)
		require.Zero(t, total(t, q))
		require.Equal(t, int64(1), total(t, svc.Queue("dlq")))

		lines := linesOf(buf, id)
		require.Len(t, lines, 3, "two retries and the move:\n%s", buf)
		for _, l := range lines[:2] {
			require.Contains(t, l, "will retry")
		}
		last := lines[2]
		require.NotContains(t, last, "will retry")
		require.Contains(t, last, "dead-lettered")
		require.Contains(t, last, "attempts=3")
		require.Contains(t, last, "dead_letter_queue=dlq")
		require.Contains(t, last, "disk on fire 3", "the last handler error")
	})
}

// A message whose last claim ended without a handler error (here a
// lease that lapsed) is moved by the store on its next claim (C6); the
// claim that moves it logs it, through Consume or by hand.
func TestConsumeLogsStoreDeadLetterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svcLog, svcBuf := quietLog()
		svc := newService(t, func(o *herald.Options) { o.Logger = svcLog })
		ctx := t.Context()
		for _, byConsume := range []bool{false, true} {
			name := "hand" + strconv.FormatBool(byConsume)
			q := svc.Queue(name)
			_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 2, DeadLetterQueue: name + ".dead"}))
			require.NoError(t, err)
			id := post(t, q, "x")[0]
			for range 2 {
				c, err := q.Claim(ctx, herald.ClaimOptions{})
				require.NoError(t, err)
				require.NoError(t, c.Release(ctx, 0))
			}
			buf := svcBuf
			if byConsume {
				log, cbuf := quietLog()
				buf = cbuf
				cctx, cancel := context.WithCancel(ctx)
				done := consumeAsync(cctx, q, func(context.Context, herald.Message) error {
					t.Error("the handler ran on a message claimed _max_claim_count times")
					return nil
				}, herald.ConsumeOptions{Logger: log})
				synctest.Wait()
				cancel()
				require.NoError(t, <-done)
			} else {
				c, err := q.Claim(ctx, herald.ClaimOptions{})
				require.NoError(t, err)
				require.Empty(t, c.Messages)
			}
			require.Equal(t, int64(1), total(t, svc.Queue(name+".dead")))
			lines := linesOf(buf, id)
			require.Len(t, lines, 1, "%s", buf)
			require.Contains(t, lines[0], "moved to the dead-letter queue")
			require.Contains(t, lines[0], "attempts=2")
			require.Contains(t, lines[0], "queue="+name+" ")
			require.Contains(t, lines[0], "dead_letter_queue="+name+".dead")
		}
	})
}

// Attempts capped without a dead-letter queue: _max_claim_count alone
// caps Consume's attempts (it did nothing before: a handler asking for an
// immediate retry ran without end), MaxAttempts does the same, the
// smaller of the two wins, and the capped message is dropped with a log.
// With a dead-letter queue a MaxAttempts below _max_claim_count moves the
// message after MaxAttempts.
func TestConsumeMaxAttempts(t *testing.T) {
	for _, c := range []struct {
		name        string
		queue       herald.QueueOptions
		maxAttempts int
		want        int
		dead        bool
	}{
		{"queue key alone", herald.QueueOptions{MaxClaimCount: 3}, 0, 3, false},
		{"option alone", herald.QueueOptions{}, 4, 4, false},
		{"option below key", herald.QueueOptions{MaxClaimCount: 5}, 2, 2, false},
		{"key below option", herald.QueueOptions{MaxClaimCount: 2}, 5, 2, false},
		{"option below key with DLQ", herald.QueueOptions{MaxClaimCount: 5, DeadLetterQueue: "dead"}, 2, 2, true},
		{"option one", herald.QueueOptions{}, 1, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newService(t)
				ctx := t.Context()
				q := svc.Queue("jobs")
				_, err := q.Create(ctx, herald.Metadata{}.WithOptions(c.queue))
				require.NoError(t, err)
				id := post(t, q, "bad")[0]
				log, buf := quietLog()
				var a attempts
				cctx, cancel := context.WithCancel(ctx)
				done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
					a.add(m)
					if m.ClaimCount > 10 {
						return nil // no cap: end the test rather than loop for ever
					}
					return herald.RetryAfter(errors.New("nope"), 0)
				}, herald.ConsumeOptions{Logger: log, MaxAttempts: c.maxAttempts})
				drain(t, q)
				cancel()
				require.NoError(t, <-done)
				require.Len(t, a.of("bad"), c.want)
				lines := linesOf(buf, id)
				require.Len(t, lines, c.want)
				last := lines[len(lines)-1]
				require.NotContains(t, last, "will retry")
				require.Contains(t, last, "attempts="+strconv.Itoa(c.want))
				require.Contains(t, last, "nope")
				if c.dead {
					require.Contains(t, last, "dead-lettered")
					require.Equal(t, int64(1), total(t, svc.Queue("dead")))
				} else {
					require.Contains(t, last, "dropped")
				}
			})
		})
	}
}

// A message claimed again after its last attempt ended without a handler
// error (its lease lapsed under a stalled consumer) is given up without
// running the handler again.
func TestConsumeAttemptsUsedUpWithoutRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		id := post(t, q, "x")[0]
		for range 2 { // two attempts whose consumers died
			c, err := q.Claim(ctx, herald.ClaimOptions{TTL: time.Minute, Grace: time.Second})
			require.NoError(t, err)
			require.Len(t, c.Messages, 1)
			time.Sleep(time.Minute)
		}
		log, buf := quietLog()
		var ran sync.Once
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(context.Context, herald.Message) error {
			ran.Do(func() { t.Error("the handler ran a third attempt of two") })
			return nil
		}, herald.ConsumeOptions{Logger: log, MaxAttempts: 2})
		drain(t, q)
		cancel()
		require.NoError(t, <-done)
		lines := linesOf(buf, id)
		require.Len(t, lines, 1, "%s", buf)
		require.Contains(t, lines[0], "dropped")
		require.Contains(t, lines[0], "attempts are used up")
	})
}

// RetryAfter with a negative delay falls back on the backoff instead of
// retrying at once.
func TestConsumeRetryAfterNegative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "x")
		log, _ := quietLog()
		var a attempts
		cctx, cancel := context.WithCancel(t.Context())
		done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			if m.ClaimCount < 3 {
				return herald.RetryAfter(errors.New("window passed"), -time.Hour)
			}
			return nil
		}, herald.ConsumeOptions{Logger: log, Backoff: herald.Backoff{Min: 3 * time.Second, Factor: 2, Jitter: -1}})
		drain(t, q)
		cancel()
		require.NoError(t, <-done)
		x := a.of("x")
		require.Len(t, x, 3)
		require.Equal(t, 3*time.Second, x[1].at.Sub(x[0].at))
		require.Equal(t, 6*time.Second, x[2].at.Sub(x[1].at))
	})
}

// Permanent(nil) is nil; RetryAfter(nil, d) still asks for a retry; the
// wrappers keep the error for errors.Is and say what they ask.
func TestConsumeRetryWrappers(t *testing.T) {
	require.NoError(t, herald.Permanent(nil))
	base := errors.New("base")
	for err, text := range map[error]string{
		herald.Permanent(base):               "permanent: base",
		herald.RetryAfter(base, time.Second): "retry after 1s: base",
		herald.RetryAfter(base, -1):          "retry after the backoff: base",
	} {
		require.ErrorIs(t, err, base)
		require.EqualError(t, err, text)
	}
	require.EqualError(t, herald.RetryAfter(nil, time.Second), "retry after 1s")
}

// Consume's own dead-letter move keeps what a C6 move keeps: the body, the
// client ID and the message's expiry, unless the queue sets a dead-letter
// TTL, which then counts from the move.
func TestConsumeDeadLetterKeepsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		for _, dlTTL := range []time.Duration{0, 48 * time.Hour} {
			name := "ttl" + strconv.Itoa(int(dlTTL.Hours()))
			q := svc.Queue(name)
			_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: name + ".dead", DeadLetterTTL: dlTTL}))
			require.NoError(t, err)
			posted := time.Now()
			_, err = q.WithClientID("producer-1").Post(ctx, herald.Draft{Body: []byte("x"), TTL: 10 * time.Minute})
			require.NoError(t, err)
			time.Sleep(time.Minute)
			log, _ := quietLog()
			cctx, cancel := context.WithCancel(ctx)
			var moved time.Time
			done := consumeAsync(cctx, q, func(context.Context, herald.Message) error {
				moved = time.Now()
				return herald.Permanent(errors.New("no"))
			}, herald.ConsumeOptions{Logger: log})
			drain(t, q)
			cancel()
			require.NoError(t, <-done)
			dead, err := svc.Queue(name+".dead").List(ctx, herald.ListOptions{})
			require.NoError(t, err)
			require.Len(t, dead, 1)
			require.Equal(t, "x", string(dead[0].Body))
			require.Equal(t, "producer-1", dead[0].ClientID)
			want := posted.Add(10 * time.Minute)
			if dlTTL > 0 {
				want = moved.Add(dlTTL)
			}
			require.True(t, want.Equal(dead[0].Expires), "%s: dead letter expires %v, want %v", name, dead[0].Expires, want)
		}
	})
}
