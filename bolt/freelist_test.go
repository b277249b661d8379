package bolt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// Issue 14 item 7: commits do not write bbolt's freelist, whose size
// follows the free pages (a worn file's ran to 325 KiB per commit; see
// BenchmarkWornFile for the throughput). While the store is open, the
// meta page records no freelist; Close writes it once, so a clean reopen
// does not rebuild it; a file copied while open (as a crash leaves it)
// needs the rebuild and opens with everything in it.
func TestFreelistNotWrittenPerCommit(t *testing.T) {
	s := openAt(t)
	ctx := t.Context()
	q := store.QueueRef{Name: "churn"}
	ids := postN(t, s, q, t0, 2_000, 100, make([]byte, 256))
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids[:1_900], Now: t0}))
	require.Positive(t, s.DB().Stats().FreePageN, "the deletes freed pages")
	post(t, s, q, t0, "one more commit")
	require.True(t, needsWalk(s.Path()), "the last commit wrote a freelist")

	crashed := copyOpenFile(t, s)
	path := s.Path()
	require.NoError(t, s.Close())
	require.False(t, needsWalk(path), "Close writes the freelist")

	require.True(t, needsWalk(crashed))
	s2, err := Open(crashed, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s2.Close()) }()
	require.NoError(t, s2.Verify(ctx))
	st, err := s2.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(101), st.Total)
}

// copyOpenFile copies the file of open store s, as a crash would leave it
// after its last commit, and returns the copy's path.
func copyOpenFile(t *testing.T, s *Store) string {
	t.Helper()
	path := s.Path() + ".crashed"
	require.NoError(t, copyFile(s.Path(), path))
	return path
}
