package memory_test

import (
	"testing"
	"time"

	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// storetest.Benchmark (in conformance_test.go) is the shared set every
// backend runs; the one here tunes this store's CPU cost alone.

var body256 = make([]byte, 256)

func msgsPerSec(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkCycle is the pipeline's work on one goroutine: per iteration 10
// single-message posts, a claim of 10 and one delete of the 10, over a
// steady backlog of 1,000 messages. It measures CPU per message without
// scheduling noise.
func BenchmarkCycle(b *testing.B) {
	s := memory.New()
	defer s.Close()
	q := store.QueueRef{Name: "bench"}
	pp := store.PostParams{Queue: q, Messages: []store.Draft{{Body: body256}}, Now: t0}
	for range 1000 {
		if _, err := s.PostMessages(ctx, pp); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]store.ID, 10)
	b.ReportAllocs()
	now := t0
	for b.Loop() {
		now = now.Add(time.Microsecond)
		pp.Now = now
		for range 10 {
			if _, err := s.PostMessages(ctx, pp); err != nil {
				b.Fatal(err)
			}
		}
		r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Minute, Limit: 10, Now: now})
		if err != nil || len(r.Messages) != 10 {
			b.Fatal(err, len(r.Messages))
		}
		for i, m := range r.Messages {
			ids[i] = m.ID
		}
		if err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: r.Claim.ID, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	msgsPerSec(b, b.N*10)
}
