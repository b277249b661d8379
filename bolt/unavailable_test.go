package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

// §4: bbolt formats some causes with %s; the errno must still match.
func TestStorageCauseFromText(t *testing.T) {
	for _, e := range storageErrnos {
		err, ok := storageCause(fmt.Errorf("file resize error: %s", e))
		require.True(t, ok, "%v", e)
		require.ErrorIs(t, err, e)
		require.Equal(t, "file resize error: "+e.Error(), err.Error())
	}
	_, ok := storageCause(errors.New("something else"))
	require.False(t, ok)

	s := &Store{path: "/x/h.db"}
	err := s.commitError(fmt.Errorf("file sync error: %s", syscall.EIO))
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, err, syscall.EIO)
	require.Equal(t, "I/O error", store.UnavailableReason(err))
	require.ErrorIs(t, s.commitError(store.ErrCorrupt), store.ErrCorrupt, "herald's own errors pass")
	require.NotErrorIs(t, s.commitError(store.ErrCorrupt), store.ErrUnavailable)
	require.NoError(t, s.commitError(nil))
}

// §4: a file at Options.MaxSize cannot take more writes: ErrUnavailable,
// reported to OnWrite, and writes work again once there is room.
func TestMaxSizeUnavailable(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "h.db"), &Options{MaxSize: 1 << 20})
	require.NoError(t, err)
	defer s.Close()
	var last error
	s.OnWrite(func(err error) { last = err })
	q := store.QueueRef{Name: "q"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body := bytes.Repeat([]byte("x"), 8000)
	var acked []store.ID
	for range 1000 {
		ids, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: body}}, Now: now})
		if err != nil {
			require.ErrorIs(t, err, store.ErrUnavailable)
			require.ErrorIs(t, err, berrors.ErrMaxSizeReached)
			require.ErrorIs(t, last, store.ErrUnavailable)
			break
		}
		acked = append(acked, ids...)
	}
	require.ErrorIs(t, last, store.ErrUnavailable, "a 1 MiB file must fill up")
	require.NoError(t, s.DeleteMessages(t.Context(), store.DeleteMessagesParams{Queue: q, IDs: acked, Now: now}))
	_, err = s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: body}}, Now: now})
	require.NoError(t, err)
	require.NoError(t, last)
}
