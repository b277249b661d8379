package herald_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// consumeAsync runs Consume and returns where its result lands.
func consumeAsync(ctx context.Context, q *herald.Queue, h herald.Handler, o herald.ConsumeOptions) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- q.Consume(ctx, h, o) }()
	return ch
}

// attempts records each handler call's message body, attempt and time.
type attempts struct {
	mu    sync.Mutex
	calls []attempt
}

type attempt struct {
	body string
	n    int
	at   time.Time
}

func (a *attempts) add(m herald.Message) {
	a.mu.Lock()
	a.calls = append(a.calls, attempt{string(m.Body), m.ClaimCount, time.Now()})
	a.mu.Unlock()
}

func (a *attempts) of(body string) []attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []attempt
	for _, c := range a.calls {
		if c.body == body {
			out = append(out, c)
		}
	}
	return out
}

// quietLog returns a logger writing to a buffer the test can read once
// Consume has returned.
func quietLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func total(t *testing.T, q *herald.Queue) int64 {
	t.Helper()
	st, err := q.Stats(context.Background())
	require.NoError(t, err)
	return st.Total
}

// Every message is handled once and deleted when its handler succeeds;
// handlers run concurrently up to Concurrency.
func TestConsumeHandlesEveryMessageOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		const n = 200
		for i := range n {
			post(t, q, strconv.Itoa(i))
		}
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		seen := make(map[string]int)
		running, peak := 0, 0
		done := consumeAsync(ctx, q, func(ctx context.Context, m herald.Message) error {
			mu.Lock()
			seen[string(m.Body)]++
			running++
			peak = max(peak, running)
			mu.Unlock()
			time.Sleep(time.Millisecond) // fake time: lets handlers overlap
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}, herald.ConsumeOptions{Concurrency: 4})
		synctest.Wait()
		for total(t, q) > 0 {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		cancel()
		require.NoError(t, <-done)
		require.Len(t, seen, n)
		for body, k := range seen {
			require.Equal(t, 1, k, "message %s handled %d times", body, k)
		}
		require.Equal(t, 4, peak)
	})
}

// A failed message comes back after the backoff (Min, then ×Factor), with
// its attempt number counting up; the rest of its claim is not disturbed.
func TestConsumeRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "flaky", "fine")
		log, _ := quietLog()
		var a attempts
		ctx, cancel := context.WithCancel(t.Context())
		done := consumeAsync(ctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			if string(m.Body) == "flaky" && m.ClaimCount < 3 {
				return errors.New("transient")
			}
			return nil
		}, herald.ConsumeOptions{
			Backoff: herald.Backoff{Min: time.Second, Factor: 3, Jitter: -1},
			Logger:  log,
		})
		start := time.Now()
		time.Sleep(time.Hour)
		cancel()
		require.NoError(t, <-done)

		flaky := a.of("flaky")
		require.Len(t, flaky, 3)
		for i, c := range flaky {
			require.Equal(t, i+1, c.n, "attempt number")
		}
		require.Equal(t, time.Duration(0), flaky[0].at.Sub(start))
		require.Equal(t, time.Second, flaky[1].at.Sub(flaky[0].at))
		require.Equal(t, 3*time.Second, flaky[2].at.Sub(flaky[1].at))
		require.Len(t, a.of("fine"), 1)
		require.Zero(t, total(t, q))
	})
}

// Backoff.Delay grows by Factor up to Max; jitter only ever shortens it,
// by at most the Jitter fraction.
func TestBackoffDelay(t *testing.T) {
	b := herald.Backoff{Min: time.Second, Max: 10 * time.Second, Factor: 2, Jitter: -1}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 1000: 10 * time.Second} {
		require.Equal(t, want, b.Delay(attempt), "attempt %d", attempt)
	}
	b.Jitter = 0.5
	for range 100 {
		d := b.Delay(3)
		require.True(t, d > 2*time.Second && d <= 4*time.Second, "jittered delay %v", d)
		d = herald.Backoff{}.Delay(1) // the zero Backoff: 1 s less up to 20 %
		require.True(t, d > 800*time.Millisecond && d <= time.Second, "default delay %v", d)
	}
}

// RetryAfter sets the delay exactly; Permanent sends the message to the
// dead-letter queue in one step with its delete, or drops it when the
// queue has none.
func TestConsumeRetryAfterAndPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: "jobs.dead"}))
		require.NoError(t, err)
		plain := svc.Queue("plain")
		post(t, q, "later", "poison")
		post(t, plain, "poison")
		log, buf := quietLog()
		var a attempts
		handler := func(ctx context.Context, m herald.Message) error {
			a.add(m)
			switch {
			case string(m.Body) == "poison":
				return herald.Permanent(errors.New("cannot parse"))
			case m.ClaimCount == 1:
				return herald.RetryAfter(errors.New("busy"), 7*time.Second)
			}
			return nil
		}
		cctx, cancel := context.WithCancel(ctx)
		o := herald.ConsumeOptions{Logger: log}
		d1 := consumeAsync(cctx, q, handler, o)
		d2 := consumeAsync(cctx, plain, handler, o)
		time.Sleep(time.Minute)
		cancel()
		require.NoError(t, <-d1)
		require.NoError(t, <-d2)

		later := a.of("later")
		require.Len(t, later, 2)
		require.Equal(t, 7*time.Second, later[1].at.Sub(later[0].at))
		require.Len(t, a.of("poison"), 2, "once per queue: no retry")
		require.Zero(t, total(t, q))
		require.Zero(t, total(t, plain))
		dead, err := svc.Queue("jobs.dead").List(ctx, herald.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []string{"poison"}, bodies(dead))
		require.Contains(t, buf.String(), "dead-lettered")
		require.Contains(t, buf.String(), "dropped")
	})
}

// C6 through Consume: with _max_claim_count N and a dead-letter queue, a
// message that always fails is tried N times, then moved.
func TestConsumeDeadLettersAtMaxClaimCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 3, DeadLetterQueue: "dlq"}))
		require.NoError(t, err)
		post(t, q, "bad")
		log, _ := quietLog()
		var a attempts
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			return errors.New("always")
		}, herald.ConsumeOptions{Logger: log, Backoff: herald.Backoff{Min: time.Second, Jitter: -1}})
		time.Sleep(time.Minute)
		cancel()
		require.NoError(t, <-done)
		require.Len(t, a.of("bad"), 3)
		require.Zero(t, total(t, q))
		require.Equal(t, int64(1), total(t, svc.Queue("dlq")))
	})
}

// A handler slower than the lease keeps its claim: the heartbeat renews
// it, so no other claimer gets the message meanwhile, and it is deleted
// once, when the handler succeeds.
func TestConsumeHeartbeatKeepsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		q := svc.Queue("jobs")
		post(t, q, "slow")
		var a attempts
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			time.Sleep(10 * time.Minute)
			return nil
		}, herald.ConsumeOptions{LeaseTTL: 3 * time.Second})
		for range 60 {
			time.Sleep(9 * time.Second)
			c, err := q.Claim(ctx, herald.ClaimOptions{})
			require.NoError(t, err)
			require.Empty(t, c.Messages, "another claimer got the message under a live lease")
		}
		time.Sleep(2 * time.Minute)
		cancel()
		require.NoError(t, <-done)
		require.Len(t, a.of("slow"), 1)
		require.Zero(t, total(t, q))
	})
}

// A panicking handler is logged with its stack and counts as a failure:
// the message is retried.
func TestConsumeRecoversPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "boom")
		log, buf := quietLog()
		var a attempts
		ctx, cancel := context.WithCancel(t.Context())
		done := consumeAsync(ctx, q, func(ctx context.Context, m herald.Message) error {
			a.add(m)
			if m.ClaimCount == 1 {
				panic("handler bug")
			}
			return nil
		}, herald.ConsumeOptions{Logger: log})
		time.Sleep(time.Hour)
		cancel()
		require.NoError(t, <-done)
		require.Len(t, a.of("boom"), 2)
		require.Zero(t, total(t, q))
		require.Contains(t, buf.String(), "handler panicked")
		require.Contains(t, buf.String(), "handler bug")
		require.Contains(t, buf.String(), "consume_test.go", "the stack is logged")
	})
}

// Graceful stop: when ctx ends, claimed but unstarted messages are free
// again at once, a running handler that finishes in time is acknowledged,
// one that runs past StopTimeout has its context cancelled and its message
// released, and Consume returns nil once every handler has returned.
func TestConsumeGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		for i := range 10 {
			post(t, q, strconv.Itoa(i))
		}
		finish := make(chan struct{})
		var once sync.Once
		defer once.Do(func() { close(finish) }) // unblock a failed run
		var a attempts
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := consumeAsync(ctx, q, func(hctx context.Context, m herald.Message) error {
			a.add(m)
			switch string(m.Body) {
			case "0": // finishes after the stop, within StopTimeout
				<-finish
				return nil
			default: // runs until its context ends
				<-hctx.Done()
				return hctx.Err()
			}
		}, herald.ConsumeOptions{Concurrency: 2, Batch: 10, StopTimeout: 30 * time.Second})
		synctest.Wait()
		require.Len(t, a.calls, 2, "two handlers running")
		st, err := q.Stats(t.Context())
		require.NoError(t, err)
		require.Equal(t, int64(10), st.Claimed)

		cancel()
		stopped := time.Now()
		synctest.Wait()
		st, err = q.Stats(t.Context())
		require.NoError(t, err)
		require.Equal(t, int64(8), st.Free, "unstarted messages are free at once")
		require.Equal(t, int64(2), st.Claimed)

		once.Do(func() { close(finish) })
		time.Sleep(10 * time.Second) // the heartbeat deletes what a claim's stragglers hold up
		synctest.Wait()
		require.Equal(t, int64(9), total(t, q), "the finished handler's message is deleted")
		select {
		case err := <-done:
			t.Fatalf("Consume returned %v before the stuck handler's deadline", err)
		default:
		}

		require.NoError(t, <-done)
		require.Equal(t, 30*time.Second, time.Since(stopped), "the stuck handler was cut off at StopTimeout")
		st, err = q.Stats(t.Context())
		require.NoError(t, err)
		require.Equal(t, herald.Stats{Free: 9, Total: 9}, withoutTimes(st))
		require.Len(t, a.calls, 2, "nothing started after the stop")
	})
}

func withoutTimes(st herald.Stats) herald.Stats {
	return herald.Stats{Free: st.Free, Claimed: st.Claimed, Delayed: st.Delayed, Total: st.Total}
}

// Service.Close stops a running Consume gracefully first: Consume returns
// ErrClosed, and the handler that was running got to finish.
func TestConsumeStopsOnServiceClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, err := herald.New(herald.Options{Store: newMemory()})
		require.NoError(t, err)
		q := svc.Queue("jobs")
		post(t, q, "a")
		started := make(chan struct{})
		done := consumeAsync(t.Context(), q, func(ctx context.Context, m herald.Message) error {
			close(started)
			time.Sleep(time.Second)
			return nil
		}, herald.ConsumeOptions{})
		<-started
		require.NoError(t, svc.Close())
		require.ErrorIs(t, <-done, herald.ErrClosed)
		require.ErrorIs(t, q.Consume(t.Context(), func(context.Context, herald.Message) error { return nil }, herald.ConsumeOptions{}), herald.ErrClosed)
	})
}

// Bad options get typed errors before anything runs.
func TestConsumeBadOptions(t *testing.T) {
	svc := newService(t)
	q := svc.Queue("jobs")
	ok := func(context.Context, herald.Message) error { return nil }
	for _, c := range []struct {
		name string
		q    *herald.Queue
		h    herald.Handler
		o    herald.ConsumeOptions
		want error
	}{
		{"nil handler", q, nil, herald.ConsumeOptions{}, herald.ErrInvalid},
		{"bad queue", svc.Queue("a/b"), ok, herald.ConsumeOptions{}, herald.ErrInvalidName},
		{"negative concurrency", q, ok, herald.ConsumeOptions{Concurrency: -1}, herald.ErrInvalidLimit},
		{"batch over limit", q, ok, herald.ConsumeOptions{Batch: 1001}, herald.ErrInvalidLimit},
		{"lease too short", q, ok, herald.ConsumeOptions{LeaseTTL: time.Millisecond}, herald.ErrInvalidTTL},
		{"negative stop timeout", q, ok, herald.ConsumeOptions{StopTimeout: -1}, herald.ErrInvalidTTL},
		{"negative max attempts", q, ok, herald.ConsumeOptions{MaxAttempts: -1}, herald.ErrInvalidLimit},
		{"backoff max over max delay", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Max: time.Hour}}, herald.ErrInvalidDelay},
		{"backoff min over max", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Min: 2 * time.Second, Max: time.Second}}, herald.ErrInvalidDelay},
		{"backoff factor", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Factor: 0.5}}, herald.ErrInvalidDelay},
		{"backoff jitter", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Jitter: 2}}, herald.ErrInvalidDelay},
		{"backoff NaN factor", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Factor: math.NaN()}}, herald.ErrInvalidDelay},
		{"backoff NaN jitter", q, ok, herald.ConsumeOptions{Backoff: herald.Backoff{Jitter: math.NaN()}}, herald.ErrInvalidDelay},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.q.Consume(t.Context(), c.h, c.o)
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, err, herald.ErrInvalid)
		})
	}
}
