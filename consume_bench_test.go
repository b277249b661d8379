package herald_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// BenchmarkConsume is BenchmarkPipeline with Consume in place of the hand
// written consumers: 4 producers post single 256-byte messages while one
// Consume with 4 handlers and claims of 10 runs a no-op handler. The clock
// stops when Consume has returned, so every delete is durable.
func BenchmarkConsume(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		runConsume(b, newBenchService(b, newMemory()).Queue("jobs"), 4, 20_000)
	})
	b.Run("bolt", func(b *testing.B) {
		st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
		require.NoError(b, err)
		runConsume(b, newBenchService(b, st).Queue("jobs"), 4, 2_000)
	})
}

func runConsume(b *testing.B, q *herald.Queue, producers, perRun int) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	total := int64(perRun) * int64(b.N)
	var posted, handled atomic.Int64
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
	err := q.Consume(ctx, func(context.Context, herald.Message) error {
		if handled.Add(1) == total {
			stop()
		}
		return nil
	}, herald.ConsumeOptions{Concurrency: 4, Batch: 10})
	b.StopTimer()
	wg.Wait()
	require.NoError(b, err)
	reportRate(b, total)
}
