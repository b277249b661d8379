package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmq/herald/store"
)

// BenchOptions sizes the shared benchmarks.
type BenchOptions struct {
	// Backlog is the number of messages in the backlog benchmark; zero means
	// 1,000,000. The environment variable HERALD_BENCH_BACKLOG overrides it
	// so CI can run a small backlog without a code change.
	Backlog int
}

// Benchmark runs the shared benchmarks against the stores newStore makes.
// Each reports msgs/s; Backlog reports latency percentiles instead, to show
// that cost does not grow with the queue (DESIGN.md §3). Benchmarks use the
// real clock, as a service would.
func Benchmark(b *testing.B, newStore func(tb testing.TB) store.Store, opts BenchOptions) {
	b.Run("Post", func(b *testing.B) { benchPost(b, newStore(b), 1) })
	b.Run("PostBatch10", func(b *testing.B) { benchPost(b, newStore(b), 10) })
	b.Run("ClaimDelete", func(b *testing.B) { benchClaimDelete(b, newStore(b)) })
	b.Run("Pipeline", func(b *testing.B) { benchPipeline(b, newStore(b)) })
	b.Run("Backlog", func(b *testing.B) { benchBacklog(b, newStore(b), backlogSize(b, opts)) })
}

const (
	bodySize   = 256
	benchBatch = 1000 // messages per post when filling a queue
)

var (
	benchBody  = make([]byte, bodySize)
	benchQueue = store.QueueRef{Project: "bench", Name: "q"}
)

// closeAfter closes s when the benchmark ends.
func closeAfter(b *testing.B, s store.Store) {
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
}

// reportRate reports msgs/s over the timed part of the benchmark.
func reportRate(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

func benchDrafts(n int) []store.Draft {
	d := make([]store.Draft, n)
	for i := range d {
		d[i] = store.Draft{Body: benchBody}
	}
	return d
}

func benchPost(b *testing.B, s store.Store, batch int) {
	closeAfter(b, s)
	ctx, msgs := b.Context(), benchDrafts(batch)
	b.ResetTimer()
	for range b.N {
		if _, err := s.PostMessages(ctx, store.PostParams{Queue: benchQueue, Messages: msgs, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*batch)
}

// fill posts n messages to q in batches.
func fill(b *testing.B, s store.Store, q store.QueueRef, n int) {
	ctx := b.Context()
	for n > 0 {
		k := min(n, benchBatch)
		if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: benchDrafts(k), Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
}

// claimDelete claims up to limit messages and deletes them under the claim,
// returning how many it took.
func claimDelete(ctx context.Context, s store.Store, q store.QueueRef, limit int) (int, error) {
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: limit, Now: time.Now()})
	if err != nil || len(res.Messages) == 0 {
		return 0, err
	}
	ids := make([]store.ID, len(res.Messages))
	for i, m := range res.Messages {
		ids[i] = m.ID
	}
	return len(ids), s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: res.Claim.ID, Now: time.Now()})
}

func benchClaimDelete(b *testing.B, s store.Store) {
	closeAfter(b, s)
	fill(b, s, benchQueue, b.N*10)
	ctx := b.Context()
	b.ResetTimer()
	taken := 0
	for range b.N {
		n, err := claimDelete(ctx, s, benchQueue, 10)
		if err != nil {
			b.Fatal(err)
		}
		taken += n
	}
	b.StopTimer()
	if taken != b.N*10 {
		b.Fatalf("claimed %d messages, want %d", taken, b.N*10)
	}
	reportRate(b, taken)
}

// benchPipeline runs producers and consumers together and reports the
// end-to-end rate: a message counts once it is deleted.
func benchPipeline(b *testing.B, s store.Store) {
	const producers, consumers, perOp = 4, 4, 1000
	closeAfter(b, s)
	total := max(b.N, 1) * perOp
	ctx := b.Context()
	var (
		consumed atomic.Int64
		stop     atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		stop.Store(true)
	}
	b.ResetTimer()
	for p := range producers {
		wg.Go(func() {
			for i := p; i < total && !stop.Load(); i += producers {
				if _, err := s.PostMessages(ctx, store.PostParams{Queue: benchQueue, Messages: benchDrafts(1), Now: time.Now()}); err != nil {
					fail(err)
				}
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			for consumed.Load() < int64(total) && !stop.Load() {
				n, err := claimDelete(ctx, s, benchQueue, 10)
				if err != nil {
					fail(err)
				}
				if n == 0 {
					runtime.Gosched() // producers are behind
				}
				consumed.Add(int64(n))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	reportRate(b, total)
}

func backlogSize(b *testing.B, opts BenchOptions) int {
	n := opts.Backlog
	if env := os.Getenv("HERALD_BENCH_BACKLOG"); env != "" {
		v, err := strconv.Atoi(env)
		if err != nil || v < 1 {
			b.Fatalf("HERALD_BENCH_BACKLOG=%q: want a positive whole number", env)
		}
		n = v
	}
	if n == 0 {
		n = 1_000_000
	}
	return n
}

// sizeName names a backlog size for a sub-benchmark: 1000000 → "1M".
func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// latencyOps is how many of each operation one Backlog round times.
const latencyOps = 2000

// latencies are one queue's timings of one Backlog round.
type latencies struct{ post, claim, delete []time.Duration }

func newLatencies() latencies {
	return latencies{make([]time.Duration, latencyOps), make([]time.Duration, latencyOps), make([]time.Duration, latencyOps)}
}

// benchBacklog fills a queue with size messages, a tenth of them claimed,
// and compares post, claim and delete latency on it with an empty queue in
// the same store (DESIGN §3: hot paths must not grow with the backlog).
// The two queues are timed alternately, operation by operation, so both
// medians come from the same moments: this machine's speed drifts by
// nearly 2x between runs, which would swamp a ratio of separate runs.
func benchBacklog(b *testing.B, s store.Store, size int) {
	closeAfter(b, s)
	backlog := store.QueueRef{Project: "bench", Name: "backlog"}
	empty := store.QueueRef{Project: "bench", Name: "empty"}
	fill(b, s, backlog, size)
	for left := size / 10; left > 0; {
		res, err := s.CreateClaim(b.Context(), store.CreateClaimParams{Queue: backlog, TTL: 12 * time.Hour, Limit: min(left, benchBatch), Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Messages) == 0 {
			b.Fatal("backlog ran out of free messages")
		}
		left -= len(res.Messages)
	}
	b.Run(sizeName(size), func(b *testing.B) {
		onEmpty, onBacklog := newLatencies(), newLatencies()
		for b.Loop() {
			for i := range latencyOps {
				roundTrip(b, s, empty, onEmpty, i)
				roundTrip(b, s, backlog, onBacklog, i)
			}
		}
		ratio := func(unit string, full, base []time.Duration) {
			f, e := median(full), median(base)
			b.ReportMetric(e, unit+"-p50-ns-empty")
			b.ReportMetric(f, unit+"-p50-ns")
			b.ReportMetric(f/e, unit+"-ratio")
		}
		ratio("post", onBacklog.post, onEmpty.post)
		ratio("claim", onBacklog.claim, onEmpty.claim)
		ratio("delete", onBacklog.delete, onEmpty.delete)
	})
}

// roundTrip times one post, one claim of one message and the delete of it
// under the claim on q, recording them at index i.
func roundTrip(b *testing.B, s store.Store, q store.QueueRef, l latencies, i int) {
	ctx := b.Context()
	timed := func(d *time.Duration, op func() error) {
		start := time.Now()
		err := op()
		*d = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
	}
	timed(&l.post[i], func() error {
		_, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: benchDrafts(1), Now: time.Now()})
		return err
	})
	var res store.ClaimResult
	timed(&l.claim[i], func() (err error) {
		res, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: time.Now()})
		if err == nil && len(res.Messages) != 1 {
			err = errors.New("claim found no message")
		}
		return err
	})
	timed(&l.delete[i], func() error {
		return s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{res.Messages[0].ID}, Claim: res.Claim.ID, Now: time.Now()})
	})
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Nanoseconds())
}
