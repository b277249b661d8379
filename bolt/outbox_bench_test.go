package bolt

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// BenchmarkPostSubscriptions posts 256 B messages to a queue with 0, 1 and
// 10 subscriptions, from one goroutine (one fsync per post) and from 8
// (group commit): the outbox's cost on the durable post path (S2). The
// deliveries are never leased, so the later posts also show that the cost
// does not grow with the pending deliveries.
func BenchmarkPostSubscriptions(b *testing.B) {
	for _, n := range []int{0, 1, 10} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("subs=%d/writers=%d", n, writers), func(b *testing.B) {
				s := openBench(b)
				ctx := b.Context()
				q := store.QueueRef{Name: "bench"}
				for i := range n {
					_, _, err := s.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: fmt.Sprint("http://s", i), TTL: time.Hour, Now: time.Now()})
					require.NoError(b, err)
				}
				p := store.PostParams{Queue: q, Messages: []store.Draft{{Body: benchBody}}}
				b.ResetTimer()
				var wg sync.WaitGroup
				per := (b.N + writers - 1) / writers
				for range writers {
					wg.Go(func() {
						for range per {
							p := p
							p.Now = time.Now()
							if _, err := s.PostMessages(ctx, p); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "msgs/s")
				reportBatching(b, s)
			})
		}
	}
}
