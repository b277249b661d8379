package memory_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// These benchmarks tune the store itself; storetest.Benchmark is the shared
// one every backend runs.

var body256 = make([]byte, 256)

func msgsPerSec(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkPost(b *testing.B) {
	s := memory.New()
	defer s.Close()
	q := store.QueueRef{Name: "bench"}
	p := store.PostParams{Queue: q, Messages: []store.Draft{{Body: body256}}, Now: t0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PostMessages(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	msgsPerSec(b, b.N)
}

// BenchmarkClaimDelete claims 10 messages and deletes them with their claim,
// from a backlog of b.N*10 posted beforehand.
func BenchmarkClaimDelete(b *testing.B) {
	s := memory.New()
	defer s.Close()
	q := store.QueueRef{Name: "bench"}
	drafts := make([]store.Draft, 100)
	for i := range drafts {
		drafts[i] = store.Draft{Body: body256}
	}
	for range (b.N*10 + 99) / 100 {
		if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: drafts, Now: t0}); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]store.ID, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Minute, Limit: 10, Now: t0})
		if err != nil || len(r.Messages) != 10 {
			b.Fatal(err, len(r.Messages))
		}
		for i, m := range r.Messages {
			ids[i] = m.ID
		}
		if err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: r.Claim.ID, Now: t0}); err != nil {
			b.Fatal(err)
		}
	}
	msgsPerSec(b, b.N*10)
}

// BenchmarkPipeline runs 4 producers posting single 256-byte messages and 4
// consumers claiming 10 and deleting them with one call per claim; b.N
// messages in all.
func BenchmarkPipeline(b *testing.B) {
	const producers, consumers = 4, 4
	s := memory.New()
	defer s.Close()
	q := store.QueueRef{Name: "bench"}
	var consumed atomic.Int64
	n := int64(b.N)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for p := range producers {
		wg.Go(func() {
			pp := store.PostParams{Queue: q, Messages: []store.Draft{{Body: body256}}}
			for i := p; i < b.N; i += producers {
				pp.Now = time.Now()
				if _, err := s.PostMessages(ctx, pp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			ids := make([]store.ID, 0, 10)
			for consumed.Load() < n {
				now := time.Now()
				r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Minute, Limit: 10, Now: now})
				if err != nil {
					b.Error(err)
					return
				}
				if len(r.Messages) == 0 {
					runtime.Gosched()
					continue
				}
				ids = ids[:0]
				for _, m := range r.Messages {
					ids = append(ids, m.ID)
				}
				if err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: r.Claim.ID, Now: now}); err != nil {
					b.Error(err)
					return
				}
				consumed.Add(int64(len(ids)))
			}
		})
	}
	wg.Wait()
	msgsPerSec(b, b.N)
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
