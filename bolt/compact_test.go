package bolt

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

// fileSize returns the size of the store's file in bytes.
func fileSize(t testing.TB, s *Store) int64 {
	t.Helper()
	fi, err := os.Stat(s.Path())
	require.NoError(t, err)
	return fi.Size()
}

// postN posts n messages of body to q in batches of batch and returns
// their IDs.
func postN(t testing.TB, s *Store, q store.QueueRef, now time.Time, n, batch int, body []byte) []store.ID {
	t.Helper()
	ids := make([]store.ID, 0, n)
	ds := make([]store.Draft, 0, batch)
	for len(ids) < n {
		ds = ds[:0]
		for range min(batch, n-len(ids)) {
			ds = append(ds, store.Draft{Body: body})
		}
		got, err := s.PostMessages(context.Background(), store.PostParams{Queue: q, Messages: ds, Now: now})
		require.NoError(t, err)
		ids = append(ids, got...)
	}
	return ids
}

// snapshot is everything a caller can see of one queue.
type snapshot struct {
	info  store.QueueInfo
	stats store.Stats
	msgs  []store.Message
	claim store.ClaimInfo
	held  []store.Message
}

func takeSnapshot(t *testing.T, s *Store, q store.QueueRef, cid store.ID, now time.Time) snapshot {
	t.Helper()
	ctx := t.Context()
	var sn snapshot
	var err error
	sn.info, err = s.GetQueue(ctx, store.GetQueueParams{Queue: q})
	require.NoError(t, err)
	sn.stats, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
	require.NoError(t, err)
	sn.msgs, err = s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Now: now})
	require.NoError(t, err)
	sn.claim, sn.held, err = s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: cid, Now: now})
	require.NoError(t, err)
	return sn
}

// D6: after a drain Compact gives the space back, and keeps everything a
// caller can see: messages, a live claim (C8), dedup (M10), metadata,
// stats; IDs keep increasing (M2).
func TestCompactAfterDrain(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Project: "p", Name: "q"}
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Metadata: json.RawMessage(`{"owner":"ops","_default_message_ttl":7200}`), Now: t0})
	require.NoError(t, err)

	// A 50k × 256 B backlog, then a message with a dedup ID.
	body := make([]byte, 256)
	ids := postN(t, s, q, t0, 50_000, 1000, body)
	dd, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("once"), DedupID: "d1"}}, Now: t0})
	require.NoError(t, err)
	// Drain all but the first five.
	for i := 5; i < len(ids); i += 1000 {
		require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids[i:min(i+1000, len(ids))], Now: t0}))
	}
	// A live claim on the two oldest.
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Hour, Limit: 2, Now: t0})
	require.NoError(t, err)
	require.Len(t, res.Messages, 2)
	cid := res.Claim.ID
	now := t0.Add(time.Minute)
	want := takeSnapshot(t, s, q, cid, now)
	require.Equal(t, int64(6), want.stats.Total)
	require.Equal(t, int64(2), want.stats.Claimed)

	before, after, err := s.Compact(ctx)
	require.NoError(t, err)
	require.Equal(t, after, fileSize(t, s))
	t.Logf("50k × 256 B posted, all but 6 deleted: file %d KiB before Compact, %d KiB after", before>>10, after>>10)
	require.Less(t, after, before/2)
	require.NoFileExists(t, s.Path()+".compact")
	require.NoError(t, s.Verify(ctx))

	require.Equal(t, want, takeSnapshot(t, s, q, cid, now))
	// Dedup: the repeat stores nothing and returns the first ID.
	again, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("once"), DedupID: "d1"}}, Now: now})
	require.NoError(t, err)
	require.Equal(t, dd, again)
	// The claim still fences: deleting a held message needs its ID.
	held := res.Messages[0].ID
	require.ErrorIs(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{held}, Now: now}), store.ErrClaimMismatch)
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{held}, Claim: cid, Now: now}))
	// IDs keep increasing, and the store takes writes again.
	next := post(t, s, q, now, "after")
	require.Positive(t, next[0].Compare(dd[0]))
	// The reopened database syncs like one from Open (D1).
	require.False(t, s.DB().NoSync)
	require.False(t, s.DB().NoGrowSync)
	require.True(t, s.DB().NoFreelistSync)

	// The compacted file is the store across a restart.
	s2 := reopenStore(t, s)
	t.Cleanup(func() { s2.Close() })
	st, err := s2.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
	require.NoError(t, err)
	require.Equal(t, int64(6), st.Total) // 6 - 1 deleted + 1 posted
	require.NoError(t, s2.Verify(ctx))
	_, _, err = s2.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: cid, Now: now})
	require.NoError(t, err)
}

// D6: Compact while other goroutines post, claim, delete and read. Every
// acknowledged post is there afterwards unless a claimer deleted it, and
// no call fails.
func TestCompactConcurrent(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Name: "q"}
	const posters, perPoster, batch = 3, 60, 5
	body := make([]byte, 256)
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: t0})
	require.NoError(t, err)

	var mu sync.Mutex
	acked := map[store.ID]bool{}
	deleted := map[store.ID]bool{}
	var posted atomic.Int64
	third := make(chan struct{}) // closed once a third of the posts are in
	var thirdOnce sync.Once
	done := make(chan struct{})

	var wg, workers sync.WaitGroup
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perPoster {
				ds := make([]store.Draft, batch)
				for i := range ds {
					ds[i] = store.Draft{Body: body}
				}
				got, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: ds, Now: t0})
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				for _, id := range got {
					acked[id] = true
				}
				mu.Unlock()
				if posted.Add(1) >= posters*perPoster/3 {
					thirdOnce.Do(func() { close(third) })
				}
			}
		}()
	}
	for range 2 {
		workers.Add(1)
		go func() { // a claimer
			defer workers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Hour, Limit: 7, Now: t0})
				if !assertNoError(t, err) {
					return
				}
				if len(res.Messages) == 0 {
					continue
				}
				ids := make([]store.ID, len(res.Messages))
				for i, m := range res.Messages {
					ids[i] = m.ID
				}
				if !assertNoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: res.Claim.ID, Now: t0})) {
					return
				}
				mu.Lock()
				for _, id := range ids {
					deleted[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	workers.Add(1)
	go func() { // a reader
		defer workers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			_, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
			if !assertNoError(t, err) {
				return
			}
		}
	}()
	postersDone := make(chan struct{})
	go func() { wg.Wait(); close(postersDone) }()

	// Compact at least three times, and on until the posters are done.
	<-third
	compactions, overlapped := 0, 0
compacting:
	for {
		select {
		case <-postersDone:
			if compactions >= 3 {
				break compacting
			}
		default:
			overlapped++
		}
		_, _, err := s.Compact(ctx)
		require.NoError(t, err)
		compactions++
	}
	close(done)
	workers.Wait()
	require.NoError(t, s.Verify(ctx))

	var ids []store.ID
	for id := range acked {
		ids = append(ids, id)
	}
	require.Len(t, ids, posters*perPoster*batch)
	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: ids, Now: t0})
	require.NoError(t, err)
	present := map[store.ID]bool{}
	for _, m := range got {
		present[m.ID] = true
	}
	for id := range acked {
		require.True(t, present[id] != deleted[id], "message %v: present %v, deleted %v", id, present[id], deleted[id])
	}
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(len(got)), st.Total)
	t.Logf("%d compactions, %d begun while posts were in flight; %d posted, %d deleted by claimers", compactions, overlapped, len(acked), len(deleted))
}

// waitPending waits until n ops wait for the commit lead.
func waitPending(s *Store, n int) {
	for {
		s.commit.mu.Lock()
		k := len(s.commit.pending)
		s.commit.mu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}

// assertNoError reports err from a goroutine other than the test's.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// After Close, Compact gives ErrClosed.
func TestCompactClosed(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "herald.db"), nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, _, err = s.Compact(t.Context())
	require.ErrorIs(t, err, store.ErrClosed)
}

// Compact hands out a new DB(); the old handle is closed. An
// application's own buckets survive (X2).
func TestCompactDBHandle(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "a")
	old := s.DB()
	_, _, err := s.Compact(t.Context())
	require.NoError(t, err)
	require.NotSame(t, old, s.DB())
	require.ErrorIs(t, old.View(func(*bbolt.Tx) error { return nil }), berrors.ErrDatabaseNotOpen)
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("app"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}))
	_, _, err = s.Compact(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
		require.Equal(t, "v", string(tx.Bucket([]byte("app")).Get([]byte("k"))))
		return nil
	}))
}

// A failure before the rename keeps the old file: here an application
// transaction on DB() commits during the copy, so the copy is stale and
// Compact must not install it.
func TestCompactAbortKeepsOldFile(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Name: "q"}
	ids := post(t, s, q, t0, "a", "b")
	s.compactHook = func(stage string) {
		if stage != "copied" {
			return
		}
		require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
			_, err := s.PostTx(tx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("late")}}, Now: t0})
			return err
		}))
	}
	before := fileSize(t, s)
	b, a, err := s.Compact(ctx)
	require.Error(t, err)
	require.ErrorContains(t, err, "committed during Compact")
	require.Equal(t, before, b)
	require.Equal(t, before, a)
	require.NoFileExists(t, s.Path()+".compact")
	s.compactHook = nil

	// The store works on the old file, with the late post in it.
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(3), st.Total)
	next := post(t, s, q, t0, "c")
	require.Positive(t, next[0].Compare(ids[1]))
	require.NoError(t, s.Verify(ctx))
	// And compacts fine next time.
	_, _, err = s.Compact(ctx)
	require.NoError(t, err)
	st, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(4), st.Total)
}

// A failure to reopen after the rename closes the store with a clear
// error: no panic, no hang, later calls give ErrClosed, Close is fine, and
// the path is free for Open again.
func TestCompactReopenFails(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "herald.db"), nil)
	require.NoError(t, err)
	ctx := t.Context()
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "a")
	queued := make(chan error, 1)
	s.compactHook = func(stage string) {
		if stage == "renamed" {
			require.NoError(t, os.WriteFile(s.Path(), []byte("not a bolt file, not at all, no"), 0o600))
			go func() {
				_, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("w")}}, Now: t0})
				queued <- err
			}()
			waitPending(s, 1)
		}
	}
	_, _, err = s.Compact(ctx)
	require.ErrorIs(t, err, store.ErrClosed)
	require.ErrorContains(t, err, "the store is closed")
	require.ErrorIs(t, <-queued, store.ErrClosed) // the writer queued behind Compact
	_, err = s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, _, err = s.Compact(ctx)
	require.ErrorIs(t, err, store.ErrClosed)
	require.NoError(t, s.Close())
	_, err = Open(s.Path(), nil)
	require.ErrorIs(t, err, store.ErrCorrupt) // the garbage, not ErrLocked
}

// Writers that queue up while Compact holds the commit lead run after it,
// on the new file.
func TestCompactQueuedWriters(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "a")
	const n = 4
	results := make(chan error, n)
	s.compactHook = func(stage string) {
		if stage != "copied" {
			return
		}
		for range n {
			go func() {
				_, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("w")}}, Now: t0})
				results <- err
			}()
		}
		waitPending(s, n) // all queued behind the paused committer
	}
	_, _, err := s.Compact(ctx)
	require.NoError(t, err)
	for range n {
		require.NoError(t, <-results)
	}
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(1+n), st.Total)
}

// A ctx cancelled while Compact waits for the commit lead withdraws it
// cleanly: the committer is not left paused.
func TestCompactPauseCancel(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	inHook, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.commit.hook = func(int) { once.Do(func() { close(inHook); <-gate }) }
	errc := make(chan error, 1)
	go func() {
		_, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("a")}}, Now: t0})
		errc <- err
	}()
	<-inHook // the post leads and is held before its commit
	ctx, cancel := context.WithCancel(t.Context())
	cerr := make(chan error, 1)
	go func() {
		_, _, err := s.Compact(ctx)
		cerr <- err
	}()
	waitPending(s, 1) // Compact's placeholder
	cancel()
	require.ErrorIs(t, <-cerr, context.Canceled)
	close(gate)
	require.NoError(t, <-errc)
	post(t, s, q, t0, "b")
	_, _, err := s.Compact(t.Context())
	require.NoError(t, err)
}
