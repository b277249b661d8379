package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// wtx is one write transaction shared by a batch of ops. It caches the
// queues the batch opened, with their counters, and writes the counters and
// the herald marks once, in finish.
type wtx struct {
	s      *Store
	tx     *bbolt.Tx
	queues *bbolt.Bucket
	open   map[string]*wq
	// ob is the outbox, once an op opened it (outbox.go).
	ob *obuckets
	// void is the store's empty bucket, once a queue was opened; finish
	// checks that it is still empty.
	void *bbolt.Bucket
	// dueLeft is how many more due items the transaction may apply, and
	// applied how many it has (B1, catchup.go).
	dueLeft, applied int
	// aside is what the batch set aside as damaged (damage.go), for the
	// hook once it commits.
	aside []asideBatch
}

func (s *Store) newWtx(tx *bbolt.Tx) *wtx {
	return &wtx{s: s, tx: tx, queues: tx.Bucket(bkQueues), open: make(map[string]*wq), dueLeft: catchUpBatch}
}

// runOp runs one op, turning a panic (bbolt on a damaged page) into
// ErrCorrupt.
func (w *wtx) runOp(fn func(w *wtx) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = damaged(w.s.path, v)
		}
	}()
	if w.queues == nil {
		return store.Errorf(store.ErrCorrupt, "%s: the queues bucket is missing", w.s.path)
	}
	return fn(w)
}

// finish writes what the batch changed in memory: queue counters, the last
// ID issued (M2) and the clock's high-water mark.
func (w *wtx) finish() error {
	for _, q := range w.open {
		if q.dirty {
			if err := q.b.Put(keyCount, q.cnt.encode()); err != nil {
				return err
			}
			q.dirty = false
		}
	}
	if w.void != nil {
		// A write meant for a lazy queue's buckets would land here and
		// show in every lazy queue: refuse to commit it.
		if k, _ := w.void.Cursor().First(); k != nil {
			return store.Errorf(store.ErrCorrupt, "%s: internal error: a write reached the shared empty bucket (key %x)", w.s.path, k)
		}
	}
	h := w.tx.Bucket(bkHerald)
	if h == nil {
		return store.Errorf(store.ErrCorrupt, "%s: the herald bucket is missing", w.s.path)
	}
	if last := w.s.ids.Last(); !last.IsZero() {
		if err := h.Put(keyLastID, bytes.Clone(last[:])); err != nil {
			return err
		}
	}
	return h.Put(keyNow, int64Bytes(w.s.hw.Load()))
}

// nextID issues an ID at now. Only ops call it, inside the write
// transaction, so IDs increase in commit order (M2).
func (w *wtx) nextID(now int64) store.ID { return w.s.ids.Next(time.Unix(0, now)) }

// Queue bucket keys and nested bucket names.
var (
	keyMeta     = []byte("meta")
	keyCreated  = []byte("created")
	keyCount    = []byte("count")
	bkMsgs      = []byte("msgs")
	bkReady     = []byte("ready")
	bkDelayed   = []byte("delayed")
	bkExpiry    = []byte("expiry")
	bkClaims    = []byte("claims")
	bkClaimExp  = []byte("claimexp")
	bkClaimMsgs = []byte("claimmsgs")
	bkDedup     = []byte("dedup")
	bkDedupExp  = []byte("dedupexp")
)

// messageBuckets are the nested buckets a purge empties; dedup stays (Q6).
var messageBuckets = [][]byte{bkMsgs, bkReady, bkDelayed, bkExpiry, bkClaims, bkClaimExp, bkClaimMsgs}

func queueKey(ref store.QueueRef) []byte {
	k := make([]byte, 0, len(ref.Project)+1+len(ref.Name))
	k = append(k, ref.Project...)
	k = append(k, '/')
	return append(k, ref.Name...)
}

// queue returns the queue ref names, or nil if it does not exist.
func (w *wtx) queue(ref store.QueueRef) (*wq, error) {
	k := queueKey(ref)
	if q := w.open[string(k)]; q != nil {
		return q, nil
	}
	b := w.queues.Bucket(k)
	if b == nil {
		return nil, nil
	}
	q, err := w.openWQ(ref, b)
	if err != nil {
		return nil, err
	}
	w.open[string(k)] = q
	return q, nil
}

// create returns the queue ref names, creating it with meta (already
// checked) if it is missing, and reports whether it created it. A new
// queue past the project's limit (0: none) gives ErrTooMany.
func (w *wtx) create(ref store.QueueRef, meta json.RawMessage, now int64, limit int) (*wq, bool, error) {
	q, err := w.queue(ref)
	if q != nil || err != nil {
		return q, false, err
	}
	pb, err := w.projects()
	if err != nil {
		return nil, false, err
	}
	if n := queueCount(pb, ref.Project); !store.Admits(n, limit) {
		return nil, false, store.QueueCapErr(ref, n, limit)
	}
	if err := addQueues(pb, ref.Project, 1); err != nil {
		return nil, false, err
	}
	k := queueKey(ref)
	b, err := w.queues.CreateBucket(k)
	if err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(meta)) == 0 {
		meta = json.RawMessage("{}")
	}
	if err := b.Put(keyMeta, bytes.Clone(meta)); err != nil {
		return nil, false, err
	}
	if err := b.Put(keyCreated, int64Bytes(now)); err != nil {
		return nil, false, err
	}
	if err := b.Put(keyCount, counts{}.encode()); err != nil {
		return nil, false, err
	}
	// No nested buckets yet: the first message's insert makes them. A
	// bucket with nested buckets takes a page of its own, 4 KiB, while one
	// with only these three keys is stored inline in its parent's page.
	if q, err = w.openWQ(ref, b); err != nil {
		return nil, false, err
	}
	w.open[string(k)] = q
	return q, true, nil
}

// drop forgets a queue the batch deleted.
func (w *wtx) drop(ref store.QueueRef) { delete(w.open, string(queueKey(ref))) }

// dueQueue opens ref's queue as of the caller's at, with everything due by
// then applied (claims ended, delays over, expiries removed), and returns
// the store's now (never before the latest seen). A nil queue with a nil
// error means the queue does not exist. A queue with more due than the
// transaction may apply gives a *behindError (catchup.go).
func (w *wtx) dueQueue(ref store.QueueRef, at time.Time) (*wq, int64, error) {
	now := w.s.observe(at)
	q, err := w.queue(ref)
	if q == nil || err != nil {
		return nil, now, err
	}
	if err := w.advance(q, now); err != nil {
		return nil, now, err
	}
	return q, now, nil
}

// wq is a queue inside a write transaction: its buckets, its counters as
// of the batch so far, and its parsed options.
type wq struct {
	ref store.QueueRef
	b   *bbolt.Bucket
	buckets
	// lazy is set while the queue has no nested buckets of its own and
	// buckets are all the void bucket (see materialize).
	lazy  bool
	cnt   counts
	dirty bool
	// due is a lower bound of the earliest time in the due indexes
	// (claimexp, delayed, expiry, dedupexp): nothing is due before it.
	due  int64
	opts *store.QueueOptions
}

// buckets are a queue's nested buckets.
type buckets struct {
	msgs, ready, delayed, expiry, claims, claimExp, claimMsgs, dedup, dedupExp *bbolt.Bucket
}

// queueBuckets names the nested buckets of a queue, in the order of the
// fields of buckets.
var queueBuckets = [][]byte{bkMsgs, bkReady, bkDelayed, bkExpiry, bkClaims, bkClaimExp, bkClaimMsgs, bkDedup, bkDedupExp}

func (bs *buckets) fields() []**bbolt.Bucket {
	return []**bbolt.Bucket{&bs.msgs, &bs.ready, &bs.delayed, &bs.expiry, &bs.claims, &bs.claimExp, &bs.claimMsgs, &bs.dedup, &bs.dedupExp}
}

// openBuckets returns the nested buckets of queue bucket b. A queue that
// never held a message has none (schema 2): then every one is void, the
// store's one empty bucket, which it reads as empty, and lazy is true. A
// queue with some of its buckets but not all is damaged.
func openBuckets(b, void *bbolt.Bucket, name string) (bs buckets, lazy bool, err error) {
	fields := bs.fields()
	found := 0
	for i, bk := range queueBuckets {
		if *fields[i] = b.Bucket(bk); *fields[i] != nil {
			found++
		}
	}
	switch found {
	case len(queueBuckets):
		return bs, false, nil
	case 0:
		if void == nil {
			return bs, false, store.Errorf(store.ErrCorrupt, "the herald bucket has no %q bucket", bkVoid)
		}
		for _, f := range fields {
			*f = void
		}
		return bs, true, nil
	}
	for i, bk := range queueBuckets {
		if *fields[i] == nil {
			return bs, false, store.Errorf(store.ErrCorrupt, "queue %s: bucket %q is missing", name, bk)
		}
	}
	return bs, false, nil
}

// voidBucket returns the store's shared empty bucket in tx, or nil.
func voidBucket(tx *bbolt.Tx) *bbolt.Bucket {
	if h := tx.Bucket(bkHerald); h != nil {
		return h.Bucket(bkVoid)
	}
	return nil
}

func (w *wtx) openWQ(ref store.QueueRef, b *bbolt.Bucket) (*wq, error) {
	if w.void == nil {
		w.void = voidBucket(w.tx)
	}
	bs, lazy, err := openBuckets(b, w.void, string(queueKey(ref)))
	if err != nil {
		return nil, err
	}
	cnt, err := decodeCounts(b.Get(keyCount))
	if err != nil {
		return nil, store.Wrapf(err, "queue %q in project %q", ref.Name, ref.Project)
	}
	q := &wq{ref: ref, b: b, buckets: bs, lazy: lazy, cnt: cnt}
	if !lazy {
		q.setFill()
	}
	q.resetDue()
	return q, nil
}

// materialize gives a lazy queue its nested buckets. insert, the only way
// a message enters a queue, calls it first; every other write is an entry
// about a message the queue holds (a dedup entry is written right after
// its message's insert), which a lazy queue has none of, so nothing else
// writes to the void bucket (finish checks that).
func (q *wq) materialize() error {
	if !q.lazy {
		return nil
	}
	fields := q.buckets.fields()
	for i, name := range queueBuckets {
		b, err := q.b.CreateBucket(name)
		if err != nil {
			return err
		}
		*fields[i] = b
	}
	q.lazy = false
	q.setFill()
	return nil
}

// setFill packs the buckets whose keys mostly arrive in order: pages are
// split full rather than half full, which halves the file (RELIABILITY.md).
// FillPercent is not stored, so it is set on every open.
func (q *wq) setFill() {
	q.msgs.FillPercent = 1.0
	q.ready.FillPercent = 1.0
	q.expiry.FillPercent = 0.9
	q.claimMsgs.FillPercent = 0.9
	q.delayed.FillPercent = 0.9
	q.claimExp.FillPercent = 0.9
}

// options returns the queue's parsed metadata.
func (q *wq) options() (*store.QueueOptions, error) {
	if q.opts == nil {
		o, err := store.ParseQueueOptions(q.b.Get(keyMeta))
		if err != nil {
			return nil, store.Errorf(store.ErrCorrupt, "queue %q in project %q: stored metadata: %v", q.ref.Name, q.ref.Project, err)
		}
		q.opts = &o
	}
	return q.opts, nil
}

// firstTime returns the time of the first key of a time-keyed bucket, or
// never.
func firstTime(b *bbolt.Bucket) int64 {
	k, _ := b.Cursor().First()
	if k == nil {
		return never
	}
	return keyTime(k)
}

const never = 1<<63 - 1

func (q *wq) resetDue() {
	q.due = min(firstTime(q.claimExp), firstTime(q.delayed), firstTime(q.expiry), firstTime(q.dedupExp))
}

func (q *wq) noteDue(t int64) { q.due = min(q.due, max(t, 0)) }

// has reports whether b holds key; bbolt's Get cannot tell an empty value
// from a missing one.
func has(b *bbolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key)
}

// bkProjects counts each project's queues (L1): project‖"/" → uint64,
// big-endian (the "/" keeps the default project's key non-empty). It is
// top level beside "queues", written in the transaction that creates or
// deletes a queue, and built by one walk of "queues" when a file from
// before it is opened.
var bkProjects = []byte("projects")

func projectKey(project string) []byte { return append([]byte(project), '/') }

// queueCount returns how many queues project has.
func queueCount(b *bbolt.Bucket, project string) int {
	v := b.Get(projectKey(project))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// addQueues changes project's queue count by delta.
func addQueues(b *bbolt.Bucket, project string, delta int) error {
	n := queueCount(b, project) + delta
	if n <= 0 {
		return b.Delete(projectKey(project))
	}
	return b.Put(projectKey(project), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// projects returns the queue-count bucket, or ErrCorrupt if it is missing.
func (w *wtx) projects() (*bbolt.Bucket, error) {
	b := w.tx.Bucket(bkProjects)
	if b == nil {
		return nil, store.Errorf(store.ErrCorrupt, "%s: the projects bucket is missing", w.s.path)
	}
	return b, nil
}

// createProjects makes the queue-count bucket on a new file or on one
// written before it, counting the queues there.
func createProjects(tx *bbolt.Tx) error {
	if tx.Bucket(bkProjects) != nil {
		return nil
	}
	b, err := tx.CreateBucket(bkProjects)
	if err != nil {
		return err
	}
	counts := make(map[string]int)
	err = tx.Bucket(bkQueues).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, '/'); i >= 0 {
			counts[string(k[:i])]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for p, n := range counts {
		if err := addQueues(b, p, n); err != nil {
			return err
		}
	}
	return nil
}
