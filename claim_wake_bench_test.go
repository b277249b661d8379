package herald_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// BenchmarkPostWithWaiters times single posts on bolt to a queue with no
// blocked claimer, then to one where many claimers (limit 1) sleep in
// Claim{Wait}, and reports both p99 latencies and their ratio (C7: a post
// wakes only the claimers that can take its messages; target ratio ≤ 2).
// The two phases alternate in every iteration, so both come from the same
// minutes of this noisy machine. By default 1,000 claimers and 50 posts
// per phase keep -benchtime=1x quick; HERALD_BENCH_WAITERS=10000 is the
// full size, with 200 posts per phase.
func BenchmarkPostWithWaiters(b *testing.B) {
	waiters, posts := 1_000, 50
	if v := os.Getenv("HERALD_BENCH_WAITERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "HERALD_BENCH_WAITERS")
		waiters, posts = n, 200
	}
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	require.NoError(b, err)
	svc := newBenchService(b, st)
	var idle, busy []time.Duration
	for i := 0; b.Loop(); i++ {
		idle = append(idle, postLatencies(b, svc, fmt.Sprint("idle", i), 0, posts)...)
		busy = append(busy, postLatencies(b, svc, fmt.Sprint("busy", i), waiters, posts)...)
	}
	p99idle, p99busy := p99(idle), p99(busy)
	b.ReportMetric(float64(p99idle)/1e6, "p99-ms-none")
	b.ReportMetric(float64(p99busy)/1e6, "p99-ms-waiters")
	b.ReportMetric(float64(p99busy)/float64(p99idle), "p99-ratio")
}

// postLatencies puts waiters claimers to sleep on queue name, then times
// posts single posts there; it ends the claimers that got nothing.
func postLatencies(b *testing.B, svc *herald.Service, name string, waiters, posts int) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := svc.Queue(name)
	_, err := q.Create(ctx, nil)
	require.NoError(b, err)
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			_, err := q.Claim(ctx, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
			if err != nil && ctx.Err() == nil {
				b.Error(err)
			}
		})
	}
	for herald.Sleepers(svc, name) < waiters {
		runtime.Gosched() // setup only: every claimer must be asleep before the clock runs
	}
	took := make([]time.Duration, posts)
	for i := range took {
		start := time.Now()
		if _, err := q.Post(ctx, herald.Draft{Body: body256}); err != nil {
			b.Fatal(err)
		}
		took[i] = time.Since(start)
	}
	cancel()
	wg.Wait()
	return took
}

// p99 is the 99th percentile of d (nearest rank).
func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[max(0, (len(s)*99+99)/100-1)]
}
