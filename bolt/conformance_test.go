package bolt

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
	"github.com/heraldmq/herald/store/storetest"
)

// newStore opens a fresh store in the test's temporary directory.
func newStore(tb testing.TB) store.Store {
	s, err := Open(filepath.Join(tb.TempDir(), "herald.db"), nil)
	require.NoError(tb, err)
	return s
}

// reopen closes s and opens its file again, as a restart would.
func reopen(t *testing.T, s store.Store) store.Store {
	path := s.(*Store).Path()
	require.NoError(t, s.Close())
	s2, err := Open(path, nil)
	require.NoError(t, err)
	return s2
}

// corrupt flips a bit of the stored body of message id, in the file, so
// that its checksum no longer matches (M11).
func corrupt(t *testing.T, s store.Store, q store.QueueRef, id store.ID) {
	t.Helper()
	err := s.(*Store).DB().Update(func(tx *bbolt.Tx) error {
		msgs := tx.Bucket(bkQueues).Bucket(queueKey(q)).Bucket(bkMsgs)
		v := msgs.Get(id[:])
		require.NotNil(t, v, "message %s", id)
		b := append([]byte(nil), v...)
		if len(b) == 0 {
			t.Fatal("empty record")
		}
		b[len(b)-1] ^= 1 // the body is the tail of the record
		return msgs.Put(id[:], b)
	})
	require.NoError(t, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore, storetest.Options{Reopen: reopen, Corrupt: corrupt})
}

// BenchmarkStore runs the shared benchmarks with a 100k backlog so that it
// fits CI; HERALD_BENCH_BACKLOG=1000000 runs the full size.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, newStore, storetest.BenchOptions{Backlog: 100_000})
}
