package bolt

import (
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir()+"/herald.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func post(t *testing.T, s *Store, q store.QueueRef, now time.Time, bodies ...string) []store.ID {
	t.Helper()
	ds := make([]store.Draft, len(bodies))
	for i, b := range bodies {
		ds[i] = store.Draft{Body: []byte(b)}
	}
	ids, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: ds, Now: now})
	require.NoError(t, err)
	return ids
}

// holdFirstBatch makes the first leader wait, before it commits, until n
// more ops are pending; it returns a func that waits for that and lets the
// leader go.
func holdFirstBatch(s *Store, n int) (release func()) {
	gate := make(chan struct{})
	var once sync.Once
	s.commit.hook = func(int) { once.Do(func() { <-gate }) }
	return func() {
		for {
			s.commit.mu.Lock()
			k := len(s.commit.pending)
			s.commit.mu.Unlock()
			if k >= n {
				break
			}
			runtime.Gosched()
		}
		close(gate)
	}
}

// D2: concurrent posts share commits. The first post's commit is held
// until all the others are queued, so they must all land in one batch.
func TestGroupCommitShares(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	const n = 32
	c0, _ := s.commitStats()
	release := holdFirstBatch(s, n)
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	wg.Go(func() {
		_, errs[n] = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("lead")}}, Now: t0})
	})
	// Wait until the leader is in the hook, then queue n more.
	for {
		s.commit.mu.Lock()
		running := s.commit.running && len(s.commit.pending) == 0
		s.commit.mu.Unlock()
		if running {
			break
		}
		runtime.Gosched()
	}
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: t0})
		})
	}
	release()
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	c1, _ := s.commitStats()
	require.Equal(t, uint64(2), c1-c0, "the leader's commit, then one for the %d queued posts", n)
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(n+1), st.Total)
}

// D2: an op that fails in a batch fails alone; the others commit and its
// partial writes do not.
func TestGroupCommitFailingOpFailsAlone(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "first")
	const n = 8
	release := holdFirstBatch(s, n+1)
	var wg sync.WaitGroup
	errs := make([]error, n)
	var metaErr, leadErr error
	wg.Go(func() {
		_, leadErr = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("lead")}}, Now: t0})
	})
	for {
		s.commit.mu.Lock()
		running := s.commit.running
		s.commit.mu.Unlock()
		if running {
			break
		}
		runtime.Gosched()
	}
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: t0})
		})
	}
	wg.Go(func() {
		metaErr = s.SetQueueMetadata(t.Context(), store.SetQueueMetadataParams{Queue: store.QueueRef{Name: "missing"}, Metadata: json.RawMessage(`{}`)})
	})
	release()
	wg.Wait()
	require.NoError(t, leadErr)
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.ErrorIs(t, metaErr, store.ErrNotFound)
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(n+2), st.Total)
	_, err = s.GetQueue(t.Context(), store.GetQueueParams{Queue: store.QueueRef{Name: "missing"}})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// D2: N goroutines posting at once all succeed, in fewer commits than
// posts. (How many fewer depends on scheduling; the held-batch tests above
// prove the exact sharing.)
func TestGroupCommitConcurrentPosts(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	const goroutines, each = 16, 20
	c0, o0 := s.commitStats()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				_, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: t0})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	c1, o1 := s.commitStats()
	require.Equal(t, uint64(goroutines*each), o1-o0)
	require.Less(t, c1-c0, uint64(goroutines*each), "concurrent posts share commits")
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(goroutines*each), st.Total)
}

// D2: a lone caller never waits on a batching timer. In a synctest bubble
// the fake clock only moves when every goroutine waits on time, so a commit
// that waited on a timer would move it.
func TestLoneCallerNoTimer(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		s, err := Open(dir+"/herald.db", nil)
		require.NoError(t, err)
		start := time.Now()
		q := store.QueueRef{Name: "q"}
		for range 3 {
			post(t, s, q, t0, "x")
		}
		res, err := s.CreateClaim(t.Context(), store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: t0})
		require.NoError(t, err)
		require.Len(t, res.Messages, 3)
		require.Zero(t, time.Since(start), "no commit waited on a timer")
		require.NoError(t, s.Close())
	})
}
