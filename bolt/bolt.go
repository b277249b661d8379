package bolt

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

var _ store.Store = (*Store)(nil)

// schemaVersion is the layout this package writes and reads. Schema 2
// lets a queue that never held a message go without its nested buckets
// (they come with its first post), and adds indexes that every write
// keeps (the queue counts, L1, and the per-project due index, L3). A
// herald of schema 1 would take such a queue for damage and write behind
// those indexes, so it must refuse the file; a schema-1 file is a valid
// schema-2 file once init rebuilds the indexes from its data, and is
// marked 2 on open.
const schemaVersion = 2

// Bucket and key names. The layout is described in doc.go.
var (
	bkHerald  = []byte("herald")
	bkQueues  = []byte("queues")
	keySchema = []byte("schema")
	keyLastID = []byte("lastid")
	keyNow    = []byte("now")
	// bkVoid, inside "herald", is always empty: a queue without nested
	// buckets reads through it (see openBuckets).
	bkVoid = []byte("void")
)

// Options configure Open. The zero value (or a nil *Options) is the
// default, and every default is safe: there is deliberately no option to
// skip fsync (D1).
type Options struct {
	// Timeout is how long Open waits for a file locked by another process
	// before it returns ErrLocked. Zero means 1s.
	Timeout time.Duration
	// FileMode is the permission of a newly created file. Zero means 0600.
	FileMode os.FileMode
	// MaxSize is the size in bytes the file may grow to; a write that would
	// grow it further fails with store.ErrUnavailable. Zero means no limit.
	MaxSize int

	// syncFreelist writes bbolt's freelist with every commit, as herald
	// did before issue 14 (see freelist.go); only BenchmarkWornFile sets
	// it, for its before figures.
	syncFreelist bool
}

// Store is a store.Store kept in one bbolt file. Create it with Open.
type Store struct {
	// db is the open file. Compact replaces it, holding gate exclusively
	// and the commit lead; everything else reads it under gate (shared),
	// as the commit leader, or under compactMu (Close).
	db   *bbolt.DB
	path string  // the registry key
	opts Options // with defaults applied; Compact reopens with them
	// handle is db again, for DB: an application may call DB inside its
	// own transaction, which Compact's swap waits for, so DB takes no
	// lock.
	handle atomic.Pointer[bbolt.DB]

	// gate is taken shared by every read (view) and exclusively by Compact
	// while it swaps the file. Writes are held back by Compact taking the
	// commit lead instead (committer.pause), so they pay nothing.
	gate sync.RWMutex
	// compactMu serialises Compact with itself and with Close.
	compactMu sync.Mutex
	// compactHook, if set (by tests only), runs inside Compact at the
	// named stage: "copied" (the copy is fsynced, the old file still
	// open) and "renamed" (the copy replaced the file, not yet reopened).
	compactHook func(stage string)

	closed atomic.Bool
	// damageHook hears of damaged messages set aside (damage.go).
	damageHook atomic.Pointer[hookFn]
	// writeHook hears whether commits reach the disk (unavailable.go).
	writeHook atomic.Pointer[func(error)]
	// broken is set once a panic escaped bbolt (see guard).
	broken atomic.Bool
	commit committer

	// ids issues message and claim IDs. It is touched only inside a bbolt
	// write transaction, whose writer lock serialises it (M2).
	ids *store.IDSource
	// hw is the latest Now seen in Unix ns: time never goes backwards, even
	// across restarts (it is persisted as "now" with every batch).
	hw atomic.Int64
}

// registry holds the files open in this process. bbolt's flock is per
// process, so a second Open of the same file would block forever.
var registry struct {
	sync.Mutex
	open map[string]bool
}

// canonical returns the absolute path of p with symlinks resolved when the
// file exists, so two spellings of one file share one registry entry.
func canonical(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// Open opens or creates the store file at path. A missing, 0-byte or
// foreign bbolt file (one with other buckets) becomes an empty store beside
// what it holds (X2). A file that is not a valid store gives ErrCorrupt; a
// file locked by another process gives ErrLocked after opts.Timeout, and a
// file this process already has open gives ErrLocked at once (D4). A
// file system that is full, read-only or failing gives ErrUnavailable
// with the cause (syscall.ENOSPC, EROFS, EIO, EDQUOT) wrapped, here and
// from every write, whose commit fails whole (D5, §4); OnWrite tells
// when writes fail and when they work again.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	key, err := canonical(path)
	if err != nil {
		return nil, store.Wrapf(err, "%s", path)
	}
	registry.Lock()
	if registry.open[key] {
		registry.Unlock()
		return nil, store.Errorf(store.ErrLocked, "%s: already open in this process", path)
	}
	if registry.open == nil {
		registry.open = make(map[string]bool)
	}
	registry.open[key] = true
	registry.Unlock()

	s, err := open(path, o)
	if err != nil {

		registry.Lock()
		delete(registry.open, key)
		registry.Unlock()
		return nil, err
	}
	s.path = key
	return s, nil
}

func open(path string, o Options) (s *Store, err error) {
	db, err := openDB(path, o)
	if err != nil {
		return nil, err
	}
	s = &Store{db: db, opts: o, ids: store.NewIDSource()}
	s.handle.Store(db)
	s.commit.s = s
	if err := s.init(path); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the bbolt file with the options every herald store uses
// (Open and Compact's reopen), mapping errors and panics to herald's
// sentinels.
func openDB(path string, o Options) (db *bbolt.DB, err error) {
	bo := &bbolt.Options{
		Timeout:        o.Timeout,
		FreelistType:   bbolt.FreelistMapType,
		MaxSize:        o.MaxSize,
		NoFreelistSync: !o.syncFreelist, // see freelist.go
	}
	if bo.NoFreelistSync && needsWalk(path) {
		if err := prewalk(path, o); err != nil {
			return nil, err
		}
	}
	func() {
		defer faultsPanic()()
		defer func() {
			if v := recover(); v != nil {
				err = damaged(path, v)
			}
		}()
		db, err = bbolt.Open(path, o.FileMode, bo)
	}()
	if err != nil {
		return nil, openError(path, err)
	}
	// bbolt opens a truncated file and faults at the first read past
	// its end; say so now, while the file is ours (locked) to measure.
	if err := truncated(path); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openError maps bbolt's open errors to herald's sentinels (D4).
func openError(path string, err error) error {
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return err
	case errors.Is(err, berrors.ErrTimeout):
		return store.Errorf(store.ErrLocked, "%s: locked by another process", path)
	}
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) || errors.As(err, &errno) {
		if cause, ok := storageCause(err); ok {
			return store.Unavailable(cause, "%s", path) // D5: full, read-only, failing
		}
		return store.Wrapf(err, "%s", path) // the file system's, not the file's
	}
	// The rest are bbolt's complaints about the file itself ("file size
	// too small", "invalid database" …), which for a truncated file say
	// less than truncated does.
	if t := truncated(path); t != nil {
		return t
	}
	switch {
	case errors.Is(err, berrors.ErrInvalid):
		return store.Errorf(store.ErrCorrupt, "bolt file %s is not a bbolt database, or both its meta pages are damaged", path)
	case errors.Is(err, berrors.ErrVersionMismatch):
		return store.Errorf(store.ErrCorrupt, "bolt file %s has a bbolt format version this build does not read", path)
	case errors.Is(err, berrors.ErrChecksum):
		return store.Errorf(store.ErrCorrupt, "bolt file %s is damaged: its meta pages fail their checksums", path)
	}
	return damaged(path, err)
}

// init checks or writes the schema and loads the ID and clock high-water
// marks.
func (s *Store) init(path string) (err error) {
	defer faultsPanic()()
	defer func() {
		if v := recover(); v != nil {
			err = damaged(path, v)
		}
	}()
	err = s.db.Update(func(tx *bbolt.Tx) error {
		h := tx.Bucket(bkHerald)
		if h == nil {
			var err error
			if h, err = tx.CreateBucket(bkHerald); err != nil {
				return err
			}
			if err := h.Put(keySchema, int64Bytes(schemaVersion)); err != nil {
				return err
			}
		}
		v, ok := bytesInt64(h.Get(keySchema))
		switch {
		case !ok:
			return store.Errorf(store.ErrCorrupt, "%s: unreadable schema version", path)
		case v > schemaVersion:
			return store.Errorf(store.ErrCorrupt, "%s: schema version %d is newer than this herald supports (%d)", path, v, schemaVersion)
		case v < 1:
			return store.Errorf(store.ErrCorrupt, "%s: bad schema version %d", path, v)
		}
		if _, err := h.CreateBucketIfNotExists(bkVoid); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bkQueues); err != nil {
			return err
		}
		if v < 2 {
			// A schema-1 herald may have written the file since these
			// indexes were built: build them again from the data.
			for _, b := range [][]byte{bkProjects, bkDueProj} {
				if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
					return err
				}
			}
		}
		// The outbox came after schema 1 without changing what was there:
		// a file written before it gets its empty buckets here (see
		// outboxcodec.go).
		if err := createOutbox(tx); err != nil {
			return err
		}
		// The queue counts (L1), likewise.
		if err := createProjects(tx); err != nil {
			return err
		}
		if v < schemaVersion {
			if err := h.Put(keySchema, int64Bytes(schemaVersion)); err != nil {
				return err
			}
		}
		if b := h.Get(keyLastID); len(b) == 16 {
			s.ids.Observe(idOf(b))
		}
		now, ok := bytesInt64(h.Get(keyNow))
		if !ok {
			now = minTime
		}
		s.hw.Store(now)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		if cause, ok := storageCause(err); ok {
			return store.Unavailable(cause, "%s", path)
		}
		err = store.Wrapf(err, "%s", path)
	}
	return err
}

// minTime is the high-water mark of a store that has seen no Now.
const minTime = -1 << 63

// Close closes the file. Later calls return ErrClosed; a second Close
// returns nil. Calls in flight finish first: bbolt's Close waits for open
// transactions. A Compact in progress finishes first too. After a call hit
// damaged data (ErrCorrupt from a fault) Close returns ErrCorrupt and leaves
// the file descriptor and its lock to the process rather than wait on
// bbolt's locks, which the fault may have left held. Close commits once,
// writing bbolt's freelist, so that the next Open need not rebuild it.
func (s *Store) Close() error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.commit.close()
	defer func() {
		registry.Lock()
		delete(registry.open, s.path)
		registry.Unlock()
	}()
	if s.broken.Load() {
		// bbolt may still hold the locks its Close would wait on forever.
		return store.Errorf(store.ErrCorrupt, "close %s: damaged data was hit; the file stays open until the process exits", s.path)
	}
	s.saveClock()
	s.syncFreelistOnClose()
	if err := s.db.Close(); err != nil {
		return store.Wrapf(err, "close %s", s.path)
	}
	return nil
}

// saveClock persists the clock's high-water mark when reads moved it past
// what the last write stored, so that what a read saw expire stays expired
// after a reopen with the clock behind. Writes persist it with every batch;
// only a reads-only stretch before Close needs this. It is best effort: on
// a full or read-only disk Close still closes (a crash, likewise, keeps the
// mark of the last write).
func (s *Store) saveClock() {
	defer faultsPanic()()
	defer func() { _ = recover() }() // a damaged file: Close still closes
	hw := s.hw.Load()
	stale := false
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if h := tx.Bucket(bkHerald); h != nil {
			v, ok := bytesInt64(h.Get(keyNow))
			stale = !ok || v < hw
		}
		return nil
	})
	if !stale {
		return
	}
	_ = s.db.Update(func(tx *bbolt.Tx) error {
		if h := tx.Bucket(bkHerald); h != nil {
			return h.Put(keyNow, int64Bytes(hw))
		}
		return nil
	})
}

// faultsPanic makes a memory fault in this goroutine a panic, which the
// caller recovers as ErrCorrupt, until the returned func restores the old
// setting. bbolt reads the file through a memory map, and a damaged page
// can point outside it (a meta page with its freelist past the end, a
// garbage branch pointer): SIGBUS or SIGSEGV, fatal to the whole process
// unless turned into a panic. Every path that reads mapped pages and
// recovers uses it: defer faultsPanic()().
func faultsPanic() (restore func()) {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// Path returns the absolute path of the store file.
func (s *Store) Path() string { return s.path }

// DB returns the bbolt database, so an application can keep its own buckets
// in the same file and enqueue inside its own transactions with PostTx
// (X2). It must not touch the "herald", "queues" and "catalog" buckets.
//
// Compact replaces the database: call DB again after it rather than keeping
// the handle (the old one is closed), and do not run transactions on DB
// while a Compact runs (Compact fails rather than lose their writes).
func (s *Store) DB() *bbolt.DB { return s.handle.Load() }

func errClosed() error { return store.Errorf(store.ErrClosed, "bolt store is closed") }

// observe returns the latest of t and every Now seen before, in Unix ns.
func (s *Store) observe(t time.Time) int64 {
	n := store.Nanos(t)
	for {
		seen := s.hw.Load()
		if n <= seen {
			return seen
		}
		if s.hw.CompareAndSwap(seen, n) {
			return n
		}
	}
}

// guard runs fn, a call into bbolt, turning a panic (a fault on a damaged
// page; see faultsPanic) into ErrCorrupt. A panic that escaped bbolt may
// have left its locks held (a fault inside its own rollback does), so the
// store is then broken: later calls fail at once with ErrCorrupt, and Close
// does not wait on bbolt.
func (s *Store) guard(fn func() error) (err error) {
	if s.broken.Load() {
		return store.Errorf(store.ErrCorrupt, "%s: an earlier call hit damaged data; the store must be reopened", s.path)
	}
	defer faultsPanic()()
	defer func() {
		if v := recover(); v != nil {
			s.broken.Store(true)
			err = damaged(s.path, v)
		}
	}()
	return fn()
}

// view runs fn in a read transaction, turning bbolt panics into ErrCorrupt
// and a closed database into ErrClosed.
func (s *Store) view(fn func(tx *bbolt.Tx) error) (err error) {
	if s.closed.Load() {
		return errClosed()
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	return s.guard(func() error { return s.readError(s.path, txError(s.db.View(fn))) })
}

// txError maps bbolt's transaction errors to herald's sentinels.
func txError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return errClosed()
	}
	return err
}
