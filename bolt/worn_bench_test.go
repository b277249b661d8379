package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// BenchmarkWornFile compares a worn file with a fresh one in the same run
// (issue 14 item 7). Wearing a file is what heraldd saw in production:
// messages posted into a large backlog and removed again, half by drains
// (claim 100, delete them under the claim) and half by deleting whole
// queues, in rounds. That leaves a file mostly free with its free pages
// scattered. Then fresh and worn files run the same pipeline (4 producers
// posting one message per call, 4 consumers claiming 10 and deleting
// them), interleaved, in a rotating order so that the disk's mood hits
// each alike. The worn file is copied, so that "before" (bbolt's freelist
// written with every commit, as herald did until issue 14) and "after"
// (the default) run on the same worn pages, each with a fresh file of its
// own.
//
// HERALD_BENCH_WEAR sets how many messages wear the file (default 60,000,
// which runs in seconds; 1500000 is the size of the report, a ~180 MiB
// file and a few minutes); HERALD_BENCH_BACKLOG sets the messages of each
// measured pipeline run (default 1,000).
func BenchmarkWornFile(b *testing.B) {
	wear := envInt(b, "HERALD_BENCH_WEAR", 60_000)
	n := envSize(b, 1_000)
	ctx := b.Context()
	dir := b.TempDir()

	worn, err := Open(filepath.Join(dir, "worn.db"), nil)
	require.NoError(b, err)
	start := time.Now()
	wearFile(b, worn, wear)
	b.Logf("wore %d messages in %v: file %d MiB, %s", wear, time.Since(start).Round(time.Millisecond), fileSize(b, worn)>>20, freelistStats(worn))
	require.NoError(b, worn.Close())
	require.NoError(b, copyFile(filepath.Join(dir, "worn.db"), filepath.Join(dir, "worn-before.db")))

	before := Options{syncFreelist: true}
	type arm struct {
		name    string
		s       *Store
		took    time.Duration
		commits float64
		writes  float64
		// writeT is time in bbolt's page and meta writes with their
		// fdatasyncs, spillT in laying out pages (allocation included).
		writeT, spillT time.Duration
	}
	var arms []*arm
	for _, a := range []struct {
		name string
		file string
		opts Options
	}{
		{"fresh", "fresh.db", Options{}},
		{"worn", "worn.db", Options{}},
		{"before-fresh", "fresh-before.db", before},
		{"before-worn", "worn-before.db", before},
	} {
		t := time.Now()
		s, err := Open(filepath.Join(dir, a.file), &a.opts)
		require.NoError(b, err)
		b.Cleanup(func() { require.NoError(b, s.Close()) })
		if a.name == "worn" || a.name == "before-worn" {
			b.Logf("%s: opened in %v", a.name, time.Since(t).Round(time.Microsecond))
		}
		arms = append(arms, &arm{name: a.name, s: s})
		// Warm up untimed: the first pipeline on a file grows it and
		// makes the queue, which is no part of the comparison.
		pipeline(b, ctx, s, store.QueueRef{Name: "warm-up"}, 200)
	}

	i := 0
	for b.Loop() {
		for j := range arms {
			a := arms[(i+j)%len(arms)]
			c0, _ := a.s.commitStats()
			st0 := a.s.db.Stats()
			t := time.Now()
			pipeline(b, ctx, a.s, store.QueueRef{Name: fmt.Sprintf("pipe-%d", i)}, n)
			a.took += time.Since(t)
			c1, _ := a.s.commitStats()
			st1 := a.s.db.Stats()
			a.commits += float64(c1 - c0)
			a.writes += float64(st1.TxStats.GetWrite() - st0.TxStats.GetWrite())
			a.writeT += st1.TxStats.GetWriteTime() - st0.TxStats.GetWriteTime()
			a.spillT += st1.TxStats.GetSpillTime() - st0.TxStats.GetSpillTime()
		}
		i++
	}
	rate := map[string]float64{}
	for _, a := range arms {
		rate[a.name] = float64(n*i) / a.took.Seconds()
		b.ReportMetric(rate[a.name], a.name+"-msgs/s")
	}
	b.ReportMetric(rate["worn"]/rate["fresh"], "worn/fresh")
	b.ReportMetric(rate["before-worn"]/rate["before-fresh"], "before-worn/fresh")
	for _, a := range arms {
		b.Logf("%s: %.0f msgs/s, per commit: %.1f page writes, %.0f µs writing and syncing, %.0f µs spilling; %s", a.name, rate[a.name],
			a.writes/a.commits, float64(a.writeT.Microseconds())/a.commits, float64(a.spillT.Microseconds())/a.commits, freelistStats(a.s))
	}
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return writeSynced(to, data)
}

// writeSynced writes a file and fsyncs it, so that a timed commit does not
// pay for flushing it.
func writeSynced(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return syncPath(path)
}

func freelistStats(s *Store) string {
	st := s.db.Stats()
	return fmt.Sprintf("free pages %d (pending %d), freelist %d KiB",
		st.FreePageN, st.PendingPageN, st.FreelistInuse>>10)
}

// wearFile posts and removes total messages in four rounds. Each round
// posts its share into eight queues (batches of 100, 256 B bodies), then
// drains four of them and deletes the other four with what they hold.
func wearFile(b *testing.B, s *Store, total int) {
	const rounds, queues, batch = 4, 8, 100
	ctx := b.Context()
	now := time.Now()
	drafts := make([]store.Draft, batch)
	for i := range drafts {
		drafts[i] = store.Draft{Body: benchBody}
	}
	for r := range rounds {
		qs := make([]store.QueueRef, queues)
		for i := range qs {
			qs[i] = store.QueueRef{Name: fmt.Sprintf("wear-%d-%d", r, i)}
		}
		// Round-robin, so the queues' pages interleave in the file as
		// they do when many producers post at once.
		for posted, i := 0, 0; posted < total/rounds; posted, i = posted+batch, i+1 {
			if _, err := s.PostMessages(ctx, store.PostParams{Queue: qs[i%queues], Messages: drafts, Now: now}); err != nil {
				b.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for i, q := range qs {
			wg.Go(func() {
				if i%2 == 1 {
					if err := s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q}); err != nil {
						b.Error(err)
					}
					return
				}
				for {
					k, err := claimDelete(ctx, s, q, batch)
					if err != nil {
						b.Error(err)
						return
					}
					if k == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
}

// pipeline moves n messages through q: 4 producers post one at a time, 4
// consumers claim up to 10 and delete them under the claim.
func pipeline(b *testing.B, ctx context.Context, s *Store, q store.QueueRef, n int) {
	const producers, consumers = 4, 4
	var wg sync.WaitGroup
	var posted, consumed atomic.Int64
	for range producers {
		wg.Go(func() {
			for posted.Add(1) <= int64(n) {
				if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: benchBody}}, Now: time.Now()}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range consumers {
		wg.Go(func() {
			for consumed.Load() < int64(n) && !b.Failed() {
				k, err := claimDelete(ctx, s, q, 10)
				if err != nil {
					b.Error(err)
					return
				}
				if k == 0 {
					runtime.Gosched()
				}
				consumed.Add(int64(k))
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// envInt returns the whole number in env var name, or def when it is not
// set.
func envInt(tb testing.TB, name string, def int) int {
	env := os.Getenv(name)
	if env == "" {
		return def
	}
	v, err := strconv.Atoi(env)
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive whole number", name, env)
	}
	return v
}

// BenchmarkOpen times Open of a file with a backlog, closed cleanly
// (bbolt's freelist written at Close: read, not rebuilt) and as a crash
// leaves it (freelist unwritten: Open reads every page twice, once to turn
// damage into ErrCorrupt and once in bbolt's rebuild; see freelist.go).
// HERALD_BENCH_OPEN sets the backlog (default 20,000 × 256 B).
func BenchmarkOpen(b *testing.B) {
	n := envInt(b, "HERALD_BENCH_OPEN", 20_000)
	dir := b.TempDir()
	s, err := Open(filepath.Join(dir, "live.db"), nil)
	require.NoError(b, err)
	postN(b, s, store.QueueRef{Name: "backlog"}, time.Now(), n, 1000, benchBody)
	crashed, err := os.ReadFile(s.Path())
	require.NoError(b, err)
	require.NoError(b, s.Close())
	closed, err := os.ReadFile(s.Path())
	require.NoError(b, err)
	b.Logf("%d messages: file %d MiB", n, len(closed)>>20)
	for _, c := range []struct {
		name string
		file []byte
	}{{"closed", closed}, {"crashed", crashed}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(dir, c.name+".db")
			for b.Loop() {
				b.StopTimer()
				require.NoError(b, writeSynced(path, c.file))
				b.StartTimer()
				s, err := Open(path, nil)
				require.NoError(b, err)
				b.StopTimer()
				require.NoError(b, s.Close())
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/open")
		})
	}
}
