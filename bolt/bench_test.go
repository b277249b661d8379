package bolt

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// These benchmarks tune the bolt store; storetest.Benchmark (in
// conformance_test.go) is the shared one every backend runs.

var benchBody = make([]byte, 256)

func openBench(b *testing.B) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "herald.db"), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.Close()) })
	return s
}

// reportBatching reports how many ops shared each commit (D2) and how many
// pages each commit wrote (bbolt counts the meta page and each multi-page
// write, such as the freelist, as one).
func reportBatching(b *testing.B, s *Store) {
	commits, ops := s.commitStats()
	if commits > 0 {
		b.ReportMetric(float64(ops)/float64(commits), "ops/commit")
		st := s.db.Stats()
		b.ReportMetric(float64(st.TxStats.GetWrite())/float64(commits), "writes/commit")
	}
}

// BenchmarkPostSingle posts one 256 B message per call from one goroutine:
// one fsync'd commit per message.
func BenchmarkPostSingle(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	q := store.QueueRef{Name: "bench"}
	for b.Loop() {
		if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: benchBody}}, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRoundTrip times one sequential post, claim, delete-under-claim
// and reports the median round trip.
func BenchmarkRoundTrip(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	q := store.QueueRef{Name: "bench"}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: benchBody}}, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
		if _, err := claimDelete(ctx, s, q, 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkBacklogDrain posts a backlog in batches of 10 from 4 producers,
// then drains it with 4 consumers and reports the whole run's rate. The
// consumers claim 10 and delete them in one call ("separate": two commits
// a batch), or delete each batch in the call that claims the next
// ("combined", CreateClaimParams.Delete: one commit a batch).
// HERALD_BENCH_BACKLOG sets the size (default 100,000).
func BenchmarkBacklogDrain(b *testing.B) {
	b.Run("separate", func(b *testing.B) { benchBacklogDrain(b, drainSeparate) })
	b.Run("combined", func(b *testing.B) { benchBacklogDrain(b, drainCombined) })
}

// A drainer drains q with batches of limit until it is empty, adding what
// it deleted to drained.
type drainer func(ctx context.Context, s *Store, q store.QueueRef, limit int, drained *atomic.Int64) error

func drainSeparate(ctx context.Context, s *Store, q store.QueueRef, limit int, drained *atomic.Int64) error {
	for {
		k, err := claimDelete(ctx, s, q, limit)
		if err != nil || k == 0 {
			return err
		}
		drained.Add(int64(k))
	}
}

func drainCombined(ctx context.Context, s *Store, q store.QueueRef, limit int, drained *atomic.Int64) error {
	var done []store.ID
	var claim store.ID
	for {
		res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: limit,
			Delete: done, DeleteClaim: claim, Now: time.Now()})
		if err != nil {
			return err
		}
		drained.Add(int64(len(done)))
		if len(res.Messages) == 0 {
			return nil
		}
		done, claim = done[:0], res.Claim.ID
		for _, m := range res.Messages {
			done = append(done, m.ID)
		}
	}
}

func benchBacklogDrain(b *testing.B, drain drainer) {
	const producers, consumers, batch = 4, 4, 10
	n := envSize(b, 100_000)
	for b.Loop() {
		b.StopTimer()
		s, err := Open(filepath.Join(b.TempDir(), "herald.db"), nil)
		require.NoError(b, err)
		b.StartTimer()
		ctx := b.Context()
		q := store.QueueRef{Name: "backlog"}
		drafts := make([]store.Draft, batch)
		for i := range drafts {
			drafts[i] = store.Draft{Body: benchBody}
		}
		var wg sync.WaitGroup
		var posted atomic.Int64
		for range producers {
			wg.Go(func() {
				for posted.Add(batch) <= int64(n) {
					if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: drafts, Now: time.Now()}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var drained atomic.Int64
		for range consumers {
			wg.Go(func() {
				if err := drain(ctx, s, q, batch, &drained); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		reportBatching(b, s)
		require.NoError(b, s.Close())
		require.Equal(b, int64(n), drained.Load(), "drained")
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPipelineBatching is storetest's Pipeline with the ops per
// commit reported: consumers that find nothing yield, as there.
func BenchmarkPipelineBatching(b *testing.B) {
	const producers, consumers, perOp = 4, 4, 1000
	s := openBench(b)
	total := max(b.N, 1) * perOp
	ctx := b.Context()
	q := store.QueueRef{Name: "pipe"}
	var consumed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for p := range producers {
		wg.Go(func() {
			for i := p; i < total; i += producers {
				if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: benchBody}}, Now: time.Now()}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			for consumed.Load() < int64(total) {
				k, err := claimDelete(ctx, s, q, 10)
				if err != nil {
					b.Error(err)
					return
				}
				if k == 0 {
					runtime.Gosched() // producers are behind
				}
				consumed.Add(int64(k))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
	reportBatching(b, s)
}

// claimDelete claims up to limit messages and deletes them under the
// claim, returning how many it took.
func claimDelete(ctx context.Context, s *Store, q store.QueueRef, limit int) (int, error) {
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

// BenchmarkBareCommit is the floor under every write: one bbolt put
// committed (two fdatasyncs) in the store's file, outside herald. Its
// median, times three, bounds BenchmarkRoundTrip's.
func BenchmarkBareCommit(b *testing.B) {
	s := openBench(b)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		err := s.db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("bench-bare"))
			if err != nil {
				return err
			}
			return bk.Put([]byte("k"), benchBody)
		})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "p50-ms")
}
