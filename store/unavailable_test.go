package store_test

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// §4: an ErrUnavailable error matches the sentinel and its cause, reads
// with both, and its reason names the kind of failure without the path.
func TestUnavailable(t *testing.T) {
	for errno, reason := range map[syscall.Errno]string{
		syscall.ENOSPC: "disk full",
		syscall.EDQUOT: "disk quota exceeded",
		syscall.EROFS:  "read-only storage",
		syscall.EIO:    "I/O error",
		syscall.EBUSY:  "storage unavailable",
	} {
		cause := &fs.PathError{Op: "write", Path: "/secret/h.db", Err: errno}
		err := store.Unavailable(cause, "%s: write", "/secret/h.db")
		require.ErrorIs(t, err, store.ErrUnavailable)
		require.ErrorIs(t, err, errno)
		require.NotErrorIs(t, err, store.ErrInvalid)
		require.Equal(t, "herald: /secret/h.db: write: write /secret/h.db: "+errno.Error(), err.Error())
		require.Equal(t, reason, store.UnavailableReason(err))
	}
	require.Equal(t, "storage unavailable", store.UnavailableReason(errors.New("x")))
}
