package bolt

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

// storageErrnos are the failures of the file system under the file that
// leave the store unable to write until someone acts: a full disk, a full
// quota, a file system remounted read-only, a failing device (D5).
var storageErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO}

// errnoText is an error whose text bbolt formatted with %s, losing the
// errno it names; it gives the errno back to errors.Is.
type errnoText struct {
	text  string
	errno syscall.Errno
}

func (e *errnoText) Error() string { return e.text }
func (e *errnoText) Unwrap() error { return e.errno }

// storageCause returns err with the storage errno it carries made
// visible to errors.Is, and whether it carries one.
func storageCause(err error) (error, bool) {
	for _, e := range storageErrnos {
		if errors.Is(err, e) {
			return err, true
		}
	}
	// bbolt wraps some causes with %s ("file resize error: no space left
	// on device"): the text is all that is left of them.
	for _, e := range storageErrnos {
		if strings.Contains(err.Error(), e.Error()) {
			return &errnoText{text: err.Error(), errno: e}, true
		}
	}
	return err, false
}

// ours reports errors that already say what they are.
func ours(err error) bool {
	return errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrClosed) ||
		errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// commitError maps the error of a write transaction that none of its ops
// caused — writing pages, fsyncing, growing the file — to ErrUnavailable
// with its cause kept (§4, D5): every such failure is the storage's, and
// the write may succeed once it is fixed. A full disk then matches both
// ErrUnavailable and syscall.ENOSPC.
func (s *Store) commitError(err error) error {
	if err == nil || ours(err) {
		return err
	}
	cause, _ := storageCause(err)
	if errors.Is(err, berrors.ErrMaxSizeReached) {
		return store.Unavailable(cause, "%s: write: the file reached Options.MaxSize", s.path)
	}
	return store.Unavailable(cause, "%s: write", s.path)
}

// readError maps a storage errno met by a read (or an open) to
// ErrUnavailable; other errors pass.
func (s *Store) readError(path string, err error) error {
	if err == nil || ours(err) {
		return err
	}
	var pe *fs.PathError
	var errno syscall.Errno
	if !errors.As(err, &pe) && !errors.As(err, &errno) {
		return err
	}
	if cause, ok := storageCause(err); ok {
		return store.Unavailable(cause, "%s", path)
	}
	return err
}

// OnWrite sets the hook that hears whether each commit reached the disk:
// nil, or its ErrUnavailable error.
func (s *Store) OnWrite(fn func(err error)) {
	if fn == nil {
		s.writeHook.Store(nil)
		return
	}
	s.writeHook.Store(&fn)
}

// noteWrite reports a commit's outcome to the hook: success, or a storage
// failure; a fault (ErrCorrupt) or Close is not the disk's state.
func (s *Store) noteWrite(err error) {
	h := s.writeHook.Load()
	if h != nil && (err == nil || errors.Is(err, store.ErrUnavailable)) {
		(*h)(err)
	}
}

var _ store.WriteWatcher = (*Store)(nil)
