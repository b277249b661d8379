package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

var _ store.Compacter = (*Store)(nil)

// compactTxMax bounds the bytes copied per transaction into the new file,
// so compacting a large store does not hold the whole copy in memory.
const compactTxMax = 32 << 20

// Compact rewrites the store into a fresh file that holds only live pages,
// and reports the file size in bytes before and after (D6). bbolt reuses
// the pages that deletes free but never gives them back to the file system,
// so after a large backlog drains the file stays at its peak size until
// Compact runs.
//
// Compact keeps everything: messages, claims (their IDs still work, C8),
// dedup entries, metadata, counters, the schema, the last ID issued and the
// clock's high-water mark, and an application's own buckets (X2). IDs
// issued afterwards keep increasing (M2).
//
// It is safe to call while other goroutines use the store, but it is a full
// copy of the live data and it pauses the store: writes wait from the start
// to the end, and reads wait while the file is swapped (a close, rename,
// directory fsync and reopen). It needs free disk space for the copy, which
// it writes to Path()+".compact", fsyncs, and renames over the file. Call it
// after a drain or at a quiet time. ctx is checked between steps; the copy
// itself is not interrupted.
//
// On an error before the new file replaces the old, the store keeps the old
// file and works as before. If the store cannot be reopened after the swap,
// Compact returns an error matching ErrClosed and the store is closed: later
// calls return ErrClosed, and Open may be tried again. An application must
// not run transactions on DB() while Compact runs; if one commits during the
// copy, Compact notices, keeps the old file and returns an error. Compact
// closes the database DB() returned: call DB again afterwards.
func (s *Store) Compact(ctx context.Context) (before, after int64, err error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if s.closed.Load() {
		return 0, 0, errClosed()
	}
	if err := s.guard(ctx.Err); err != nil { // refuses a broken store too
		return 0, 0, err
	}
	path, tmp := s.path, s.path+".compact"
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, store.Wrapf(err, "compact %s", path)
	}
	before = fi.Size()

	// Hold writes back for the whole compaction.
	if err := s.commit.pause(ctx); err != nil {
		return before, before, err
	}
	defer s.commit.resume()

	// Writes are paused, so the copy is the whole state. Reads go on
	// meanwhile. txid notes the last commit copied: an application's
	// transaction on DB() that commits after it is detected below.
	var txid int
	if err := s.view(func(tx *bbolt.Tx) error { txid = tx.ID(); return nil }); err != nil {
		return before, before, err
	}
	if err := removeIfExists(tmp); err != nil {
		return before, before, store.Wrapf(err, "compact %s", path)
	}
	if err := copyDB(tmp, s.db, fi.Mode().Perm(), s.opts.Timeout); err != nil {
		_ = os.Remove(tmp)
		return before, before, err
	}
	if s.compactHook != nil {
		s.compactHook("copied")
	}
	if err := ctx.Err(); err != nil {
		_ = os.Remove(tmp)
		return before, before, err
	}

	// Swap the files with reads held back too.
	s.gate.Lock()
	defer s.gate.Unlock()
	if err := s.db.Close(); err != nil {
		// The handle is unusable either way; go on with a fresh one.
		err = store.Wrapf(err, "compact %s: closing the old file", path)
		return before, before, s.reopen(path, tmp, err)
	}
	if n, err := lastTxID(path, s.opts.Timeout); err != nil || n != txid {
		if err == nil {
			err = fmt.Errorf("herald: compact %s: a transaction on DB() committed during Compact; the file is unchanged, try again", path)
		}
		return before, before, s.reopen(path, tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return before, before, s.reopen(path, tmp, store.Wrapf(err, "compact %s", path))
	}
	// Past this point the new file is the store.
	if err := syncPath(filepath.Dir(path)); err != nil {
		// The rename may not survive a crash, and writes after it would
		// go to the new file: refuse them rather than risk losing them.
		return before, before, s.fail(path, store.Wrapf(err, "fsync of its directory failed"))
	}
	if s.compactHook != nil {
		s.compactHook("renamed")
	}
	db, err := openDB(path, s.opts)
	if err == nil {
		err = checkSchema(db)
		if err != nil {
			_ = db.Close()
		}
	}
	if err != nil {
		return before, before, s.fail(path, err)
	}
	s.db = db
	s.handle.Store(db)
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// reopen opens the old file again after a failure before the rename,
// removes the temporary copy, and returns cause; if the old file will not
// open, the store is closed.
func (s *Store) reopen(path, tmp string, cause error) error {
	_ = os.Remove(tmp)
	db, err := openDB(path, s.opts)
	if err != nil {
		return s.fail(path, store.Wrapf(err, "%v; reopening the old file failed", cause))
	}
	s.db = db
	s.handle.Store(db)
	return cause
}

// fail closes the store after Compact could not put a usable file in
// place: later calls return ErrClosed, ops waiting for the commit lead get
// ErrClosed from the closed database, and the path is free to Open again.
// s.db stays the closed handle, never nil. Callers hold compactMu, gate
// and the commit lead.
func (s *Store) fail(path string, cause error) error {
	s.closed.Store(true)
	s.commit.close()
	registry.Lock()
	delete(registry.open, s.path)
	registry.Unlock()
	return store.Errorf(store.ErrClosed, "%s: compact: %v; the store is closed, open it again", path, cause)
}

// copyDB writes a compacted copy of src to a new file at tmp and fsyncs
// it. It does not fsync between its transactions: the copy means nothing
// until the final fsync and the rename.
func copyDB(tmp string, src *bbolt.DB, mode os.FileMode, timeout time.Duration) (err error) {
	dst, err := bbolt.Open(tmp, mode, &bbolt.Options{
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
		NoSync:       true, // the copy is fsynced once, below
	})
	if err != nil {
		return store.Wrapf(err, "compact: create %s", tmp)
	}
	func() {
		defer faultsPanic()()
		defer func() {
			if v := recover(); v != nil {
				err = store.Wrapf(damaged(src.Path(), v), "compact: copying")
			}
		}()
		err = bbolt.Compact(dst, src, compactTxMax)
	}()
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncPath(tmp)
	}
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		err = store.Wrapf(err, "compact: writing %s", tmp)
	}
	return err
}

// lastTxID opens the closed file read-only and returns the ID of its last
// committed transaction.
func lastTxID(path string, timeout time.Duration) (id int, err error) {
	defer faultsPanic()()
	defer func() {
		if v := recover(); v != nil {
			err = damaged(path, v)
		}
	}()
	db, err := bbolt.Open(path, 0, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return 0, openError(path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil })
	return id, err
}

// checkSchema checks that a reopened file is a herald store of this
// version.
func checkSchema(db *bbolt.DB) (err error) {
	defer faultsPanic()()
	defer func() {
		if v := recover(); v != nil {
			err = damaged(db.Path(), v)
		}
	}()
	return db.View(func(tx *bbolt.Tx) error {
		h := tx.Bucket(bkHerald)
		if h == nil || tx.Bucket(bkQueues) == nil {
			return store.Errorf(store.ErrCorrupt, "%s: the herald or queues bucket is missing", db.Path())
		}
		if v, ok := bytesInt64(h.Get(keySchema)); !ok || v != schemaVersion {
			return store.Errorf(store.ErrCorrupt, "%s: bad schema version", db.Path())
		}
		return nil
	})
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncPath fsyncs a file or a directory (after a rename, the directory
// entry must reach the disk too). A read-only descriptor is enough for
// fsync on Linux.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errPaused is the error of the placeholder op pause queues; it only shows
// if the op is swept into a batch, and then pause tries again.
var errPaused = errors.New("herald: commit paused for compaction")

// pause takes the commit lead without running a batch, so no write runs
// until resume: ops that arrive meanwhile queue up as they do behind any
// leader, and pay nothing per batch for it. It relies on the committer's
// protocol (commit.go): the leader, under mu, hands the lead to pending[0]
// with sigLead, and a new leader takes every pending op as its batch.
// pause queues a placeholder op at the front; if it gets the lead it
// withdraws the placeholder and holds the lead. If a leader sweeps it into
// a batch instead, its fn fails, the batch commits without it, and pause
// tries again.
func (c *committer) pause(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return errClosed()
		}
		if !c.running {
			c.running = true
			c.mu.Unlock()
			return nil
		}
		o := &op{fn: func(*wtx) error { return errPaused }, wake: make(chan signal, 1)}
		c.pending = slices.Insert(c.pending, 0, o)
		c.mu.Unlock()

		var sig signal
		select {
		case sig = <-o.wake:
		case <-ctx.Done():
			c.mu.Lock()
			if i := slices.Index(c.pending, o); i >= 0 {
				c.pending = slices.Delete(c.pending, i, i+1)
				if len(o.wake) > 0 { // handed the lead (sent under mu): pass it on
					c.handOn()
				}
				c.mu.Unlock()
				return ctx.Err()
			}
			c.mu.Unlock()
			<-o.wake // swept into a batch: it will be answered
			return ctx.Err()
		}
		if sig == sigLead {
			c.mu.Lock()
			if i := slices.Index(c.pending, o); i >= 0 {
				c.pending = slices.Delete(c.pending, i, i+1)
			}
			c.mu.Unlock()
			return nil
		}
	}
}

// resume gives up the lead pause took, as a leader does after its batch.
func (c *committer) resume() {
	c.mu.Lock()
	c.handOn()
	c.mu.Unlock()
}

// handOn passes the lead to the first pending op, or ends it. c.mu is held.
func (c *committer) handOn() {
	if len(c.pending) > 0 {
		c.pending[0].wake <- sigLead
	} else {
		c.running = false
	}
}
