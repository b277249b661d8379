package bolt

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// D4: a second Open of the same file in this process fails at once, under
// any spelling of its path; after Close it opens again.
func TestOpenTwiceLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	for _, p := range []string{path, filepath.Join(dir, ".", "herald.db")} {
		_, err = Open(p, &Options{Timeout: time.Hour}) // would hang if it reached bbolt
		require.ErrorIs(t, err, store.ErrLocked)
	}
	require.NoError(t, s.Close())
	s, err = Open(path, nil)
	require.NoError(t, err)
	require.Equal(t, path, s.Path())
	require.NoError(t, s.Close())
}

// B3: Close is idempotent and later calls give ErrClosed.
func TestCloseTwiceAndAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "herald.db"), nil)
	require.NoError(t, err)
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "x")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.ListMessages(t.Context(), store.ListMessagesParams{Queue: q, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	err = s.DB().Update(func(tx *bbolt.Tx) error {
		_, err := s.PostTx(tx, store.PostParams{Queue: q, Now: t0})
		return err
	})
	require.Error(t, err)
}

// D4: a schema newer than this package is refused with a clear error.
func TestNewerSchemaCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkHerald).Put(keySchema, int64Bytes(7))
	}))
	require.NoError(t, s.Close())
	_, err = Open(path, nil)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "schema version 7 is newer than this herald supports (2)")
	// A failed Open leaves the file free to open again.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

// D1: fsync is on, and Options has no field that could turn it off.
func TestDurableDefaults(t *testing.T) {
	s := openTest(t)
	require.False(t, s.DB().NoSync)
	require.False(t, s.DB().NoGrowSync)
	require.False(t, s.DB().NoFreelistSync)
	fields := reflect.VisibleFields(reflect.TypeFor[Options]())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	require.ElementsMatch(t, []string{"Timeout", "FileMode", "MaxSize"}, names)
}

// X2: an application posts inside its own transaction, beside its own
// bucket; a rolled-back transaction posts nothing.
func TestPostTx(t *testing.T) {
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	var ids []store.ID
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("app"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("order"), []byte("1")); err != nil {
			return err
		}
		ids, err = s.PostTx(tx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("order 1")}}, Now: t0})
		return err
	}))
	require.Len(t, ids, 1)
	msgs, err := s.GetMessages(t.Context(), store.GetMessagesParams{Queue: q, IDs: ids, Now: t0})
	require.NoError(t, err)
	require.Equal(t, "order 1", string(msgs[0].Body))

	require.Error(t, s.DB().Update(func(tx *bbolt.Tx) error {
		if _, err := s.PostTx(tx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("no")}}, Now: t0}); err != nil {
			return err
		}
		return bbolt.ErrTxClosed // any error rolls back
	}))
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Total)
	// A later post still gets a larger ID (M2).
	next := post(t, s, q, t0, "after")
	require.Positive(t, next[0].Compare(ids[0]))
}
