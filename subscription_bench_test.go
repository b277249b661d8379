package herald_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// BenchmarkPostSubscribers is the outbox cost (S2): 4 producers post
// single 256-byte messages to a bolt queue with 0, 1 and 10 webhook
// subscriptions (a local server answering 200), while the dispatcher
// delivers. msgs/s counts posts; the clock stops when the posts are done.
func BenchmarkPostSubscribers(b *testing.B) {
	for _, subs := range []int{0, 1, 10} {
		b.Run(fmt.Sprintf("bolt/%d", subs), func(b *testing.B) {
			var delivered atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { delivered.Add(1) }))
			defer srv.Close()
			st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
			require.NoError(b, err)
			q := newBenchService(b, st).Queue("events")
			ctx := context.Background()
			for i := range subs {
				_, _, err := q.Subscribe(ctx, fmt.Sprintf("%s/%d", srv.URL, i), herald.SubscribeOptions{})
				if err != nil {
					b.Skip("store does not implement subscriptions:", err)
				}
			}
			total := int64(1000 * b.N)
			var posted atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for posted.Add(1) <= total {
						if _, err := q.Post(ctx, herald.Draft{Body: body256}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			reportRate(b, total)
			b.ReportMetric(float64(delivered.Load())/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkDeliveries is the dispatcher's throughput: 200 messages posted
// to a bolt queue with 10 webhook subscriptions while the local webhook
// holds every request; the clock starts when it lets them through and
// stops when the 2,000th delivery arrives.
func BenchmarkDeliveries(b *testing.B) {
	const subs, msgs = 10, 200
	for range b.N {
		b.StopTimer()
		var delivered atomic.Int64
		gate, all := make(chan struct{}), make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			<-gate
			if delivered.Add(1) == subs*msgs {
				close(all)
			}
		}))
		st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
		require.NoError(b, err)
		svc, err := herald.New(herald.Options{Store: st})
		require.NoError(b, err)
		q := svc.Queue("events")
		ctx := context.Background()
		for i := range subs {
			if _, _, err := q.Subscribe(ctx, fmt.Sprintf("%s/%d", srv.URL, i), herald.SubscribeOptions{}); err != nil {
				svc.Close()
				srv.Close()
				b.Skip("store does not implement subscriptions:", err)
			}
		}
		drafts := make([]herald.Draft, msgs)
		for i := range drafts {
			drafts[i] = herald.Draft{Body: body256}
		}
		_, err = q.Post(ctx, drafts...)
		require.NoError(b, err)
		b.StartTimer()
		close(gate)
		<-all
		b.StopTimer()
		require.NoError(b, svc.Close())
		srv.Close()
	}
	b.ReportMetric(float64(subs*msgs*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
