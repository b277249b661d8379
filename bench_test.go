package herald_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

var body256 = make([]byte, 256)

func reportRate(b *testing.B, n int64) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPipeline is the end-to-end shape of the throughput targets: 4
// producers posting single 256-byte messages, 4 consumers claiming 10 with
// a blocking wait and deleting them through the claim in one call.
func BenchmarkPipeline(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		runPipeline(b, newBenchService(b, newMemory()).Queue("jobs"), 4, 4, 20_000)
	})
	b.Run("bolt", func(b *testing.B) { // every acknowledged write fsynced
		st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
		require.NoError(b, err)
		runPipeline(b, newBenchService(b, st).Queue("jobs"), 4, 4, 2_000)
	})
}

// BenchmarkPipelinePools is BenchmarkPipeline/memory through a Service of
// three memory pools against one on a single memory store: the difference
// is what routing costs (P1: a cached catalog lookup per call, and a
// shared lock around each post). Memory pools keep the store's own cost
// small, so the routing shows. go test runs each sub-benchmark's -count
// repeats back to back, so compare them in alternating runs of the test
// binary (one -test.bench=...$/^single$ run, then one pools3, and so on).
func BenchmarkPipelinePools(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		runPipeline(b, newBenchService(b, newMemory()).Queue("jobs"), 4, 4, 20_000)
	})
	b.Run("pools3", func(b *testing.B) {
		runPipeline(b, newPoolsBenchService(b).Queue("jobs"), 4, 4, 20_000)
	})
}

// newPoolsBenchService returns a Service over three memory pools.
func newPoolsBenchService(b *testing.B) *herald.Service {
	svc, err := herald.New(herald.Options{Pools: []herald.Pool{
		{Name: "a", Store: newMemory(), Weight: 1},
		{Name: "b", Store: newMemory(), Weight: 1},
		{Name: "c", Store: newMemory(), Weight: 1},
	}})
	require.NoError(b, err)
	b.Cleanup(func() { svc.Close() })
	return svc
}

// BenchmarkPostPools posts single 256-byte messages from one goroutine,
// on one store and through three memory pools, with a handle made once
// ("reused") and one made per post ("fresh": with pools it finds its pool
// in the Service's cache rather than the handle's).
func BenchmarkPostPools(b *testing.B) {
	run := func(b *testing.B, svc *herald.Service, fresh bool) {
		ctx := context.Background()
		q := svc.Queue("jobs")
		for range b.N {
			if fresh {
				q = svc.Queue("jobs")
			}
			if _, err := q.Post(ctx, herald.Draft{Body: body256}); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, int64(b.N))
	}
	b.Run("single/reused", func(b *testing.B) { run(b, newBenchService(b, newMemory()), false) })
	b.Run("single/fresh", func(b *testing.B) { run(b, newBenchService(b, newMemory()), true) })
	b.Run("pools3/reused", func(b *testing.B) { run(b, newPoolsBenchService(b), false) })
	b.Run("pools3/fresh", func(b *testing.B) { run(b, newPoolsBenchService(b), true) })
}

// runPipeline moves perRun*b.N messages through q and reports msgs/s.
func runPipeline(b *testing.B, q *herald.Queue, producers, consumers, perRun int) {
	ctx := context.Background()
	total := int64(perRun) * int64(b.N)
	var posted, done atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for posted.Add(1) <= total {
				if _, err := q.Post(ctx, herald.Draft{Body: body256}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			ids := make([]herald.ID, 0, 10)
			for done.Load() < total {
				c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 10, Wait: 10 * time.Millisecond})
				if err != nil {
					b.Error(err)
					return
				}
				if len(c.Messages) == 0 {
					continue
				}
				ids = ids[:0]
				for _, m := range c.Messages {
					ids = append(ids, m.ID)
				}
				if err := c.Delete(ctx, ids...); err != nil {
					b.Error(err)
					return
				}
				done.Add(int64(len(ids)))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, total)
}

func newBenchService(b *testing.B, st store.Store) *herald.Service {
	svc, err := herald.New(herald.Options{Store: st})
	require.NoError(b, err)
	b.Cleanup(func() { svc.Close() })
	return svc
}

// BenchmarkPost posts single 256-byte messages from one goroutine.
func BenchmarkPost(b *testing.B) {
	q := newBenchService(b, newMemory()).Queue("jobs")
	ctx := context.Background()
	for range b.N {
		if _, err := q.Post(ctx, herald.Draft{Body: body256}); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, int64(b.N))
}

// BenchmarkClaimDelete claims 10 and deletes them through the claim.
func BenchmarkClaimDelete(b *testing.B) {
	q := newBenchService(b, newMemory()).Queue("jobs")
	ctx := context.Background()
	drafts := make([]herald.Draft, 10)
	for i := range drafts {
		drafts[i] = herald.Draft{Body: body256}
	}
	for range b.N {
		_, err := q.Post(ctx, drafts...)
		require.NoError(b, err)
	}
	ids := make([]herald.ID, 0, 10)
	b.ResetTimer()
	for range b.N {
		c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 10})
		if err != nil || len(c.Messages) != 10 {
			b.Fatal(err, len(c.Messages))
		}
		ids = ids[:0]
		for _, m := range c.Messages {
			ids = append(ids, m.ID)
		}
		if err := c.Delete(ctx, ids...); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, int64(b.N)*10)
}
