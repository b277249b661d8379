package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/heraldmq/herald/store"
)

var _ store.Store = (*Store)(nil)

// Store is an in-memory store.Store. The zero value is not usable; call New.
//
// Locks: mu guards the queue directory and is never held while waiting for
// another lock. Each queue has its own mutex; a call holds one queue lock,
// two for a dead-letter move, or, in Transact, one per queue it names, taken
// in (project, name) order. idMu guards the IDSource and is taken inside a
// queue lock, so IDs increase in each queue's commit order (M2).
type Store struct {
	mu     sync.RWMutex
	closed bool
	queues map[store.QueueRef]*queue
	byName *btree.BTreeG[*queue] // by project, then name
	// perProject counts each project's queues (L1), kept with queues.
	perProject map[string]int
	// catalog is the store.Cataloger half (catalog.go), nil once closed.
	catalog *catalog

	idMu sync.Mutex
	ids  *store.IDSource

	// subMu guards out, the subscriptions and deliveries (outbox.go); nil
	// once closed.
	subMu sync.Mutex
	out   *outbox

	// seen is the latest Now seen, in Unix nanoseconds.
	seen atomic.Int64

	// dmg keeps the damaged messages set aside (damage.go).
	dmg damage
}

// New returns an empty Store.
func New() *Store {
	s := &Store{
		queues:     make(map[store.QueueRef]*queue),
		perProject: make(map[string]int),
		byName: btree.NewG(8, func(a, b *queue) bool {
			if a.ref.Project != b.ref.Project {
				return a.ref.Project < b.ref.Project
			}
			return a.ref.Name < b.ref.Name
		}),
		ids:     store.NewIDSource(),
		out:     newOutbox(),
		catalog: newCatalog(),
	}
	s.seen.Store(math.MinInt64)
	return s
}

// Close drops every queue. Later calls return store.ErrClosed; a second
// Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.queues = nil
	s.perProject = nil
	s.byName = nil
	s.catalog = nil
	s.mu.Unlock()
	s.subMu.Lock()
	s.out = nil
	s.subMu.Unlock()
	return nil
}

func errClosed() error { return store.Errorf(store.ErrClosed, "memory store is closed") }

// observe returns the latest of t and every Now seen before, in Unix
// nanoseconds: time never goes backwards.
func (s *Store) observe(t time.Time) int64 {
	n := store.Nanos(t)
	for {
		seen := s.seen.Load()
		if n <= seen {
			return seen
		}
		if s.seen.CompareAndSwap(seen, n) {
			return n
		}
	}
}

// lookup returns the queue ref names, or nil.
func (s *Store) lookup(ref store.QueueRef) (*queue, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, errClosed()
	}
	q := s.queues[ref]
	s.mu.RUnlock()
	return q, nil
}

// lockAt returns the queue ref names with its lock held and everything due
// at now applied (see queue.lockAt), and the queue's time; or nil if there
// is no such queue.
func (s *Store) lockAt(ref store.QueueRef, now int64) (*queue, int64, error) {
	for {
		q, err := s.lookup(ref)
		if q == nil || err != nil {
			return nil, now, err
		}
		if qnow, ok := q.lockAt(now); ok {
			return q, qnow, nil
		}
	}
}

// create returns the queue ref names, creating it with c if it is missing,
// and reports whether it created it. A new queue past the project's
// limit (0: none) gives ErrTooMany.
func (s *Store) create(ref store.QueueRef, c *conf, now int64, limit int) (*queue, bool, error) {
	if q, err := s.lookup(ref); q != nil || err != nil {
		return q, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, errClosed()
	}
	if q := s.queues[ref]; q != nil {
		return q, false, nil
	}
	if n := s.perProject[ref.Project]; !store.Admits(n, limit) {
		return nil, false, store.QueueCapErr(ref, n, limit)
	}
	q := newQueue(ref, c, now)
	s.add(q)
	return q, true, nil
}

// add puts a new queue into the directory; s.mu must be held.
func (s *Store) add(q *queue) {
	s.queues[q.ref] = q
	s.byName.ReplaceOrInsert(q)
	s.perProject[q.ref.Project]++
}

// emptyConf is the conf of a queue without metadata: it reads as {},
// never empty (see store.QueueInfo).
var emptyConf = &conf{meta: json.RawMessage("{}")}

// newConf checks meta for the queue name and returns it as a conf.
func newConf(name string, meta json.RawMessage) (*conf, error) {
	o, err := store.CheckQueueMetadata(name, meta)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(meta)) == 0 {
		return emptyConf, nil
	}
	return &conf{meta: bytes.Clone(meta), opts: o}, nil
}

// CreateQueue creates a queue, or reports false and leaves an existing one
// alone (Q2). The metadata is checked either way.
func (s *Store) CreateQueue(ctx context.Context, p store.CreateQueueParams) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := p.Queue.Check(); err != nil {
		return false, err
	}
	c, err := newConf(p.Queue.Name, p.Metadata)
	if err != nil {
		return false, err
	}
	_, created, err := s.create(p.Queue, c, s.observe(p.Now), p.Quota.QueuesPerProject)
	return created, err
}

// GetQueue returns a queue with its metadata, or ErrNotFound.
func (s *Store) GetQueue(ctx context.Context, p store.GetQueueParams) (store.QueueInfo, error) {
	if err := ctx.Err(); err != nil {
		return store.QueueInfo{}, err
	}
	if err := p.Queue.Check(); err != nil {
		return store.QueueInfo{}, err
	}
	q, err := s.lookup(p.Queue)
	if err != nil {
		return store.QueueInfo{}, err
	}
	if q == nil {
		return store.QueueInfo{}, notFound(p.Queue)
	}
	return q.info(true), nil
}

func notFound(ref store.QueueRef) error {
	return store.Errorf(store.ErrNotFound, "queue %q in project %q not found", ref.Name, ref.Project)
}

func (q *queue) info(meta bool) store.QueueInfo {
	i := store.QueueInfo{Name: q.ref.Name, Created: toTime(q.created)}
	if meta {
		i.Metadata = bytes.Clone(q.conf.Load().meta)
	}
	return i
}

// SetQueueMetadata replaces a queue's metadata, or returns ErrNotFound; with
// p.Expected, only if the metadata is still that (ErrConflict otherwise).
func (s *Store) SetQueueMetadata(ctx context.Context, p store.SetQueueMetadataParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Queue.Check(); err != nil {
		return err
	}
	c, err := newConf(p.Queue.Name, p.Metadata)
	if err != nil {
		return err
	}
	q, err := s.lookup(p.Queue)
	if err != nil {
		return err
	}
	if q == nil {
		return notFound(p.Queue)
	}
	// The swap succeeds only if the conf checked is still the queue's, so
	// the check and the write are one atomic step.
	for {
		old := q.conf.Load()
		if err := p.CheckExpected(old.meta); err != nil {
			return err
		}
		if q.conf.CompareAndSwap(old, c) {
			return nil
		}
	}
}

// DeleteQueue removes a queue and everything in it (Q6).
func (s *Store) DeleteQueue(ctx context.Context, p store.DeleteQueueParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Queue.Check(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed()
	}
	q := s.queues[p.Queue]
	if q != nil {
		delete(s.queues, p.Queue)
		s.byName.Delete(q)
		if s.perProject[p.Queue.Project]--; s.perProject[p.Queue.Project] == 0 {
			delete(s.perProject, p.Queue.Project)
		}
	}
	// Under the directory lock, so that setAside, which records into a
	// set only while its queue is in the directory, cannot slip an entry
	// in between (M11: a set dies with its queue).
	s.dropDamaged(p.Queue)
	s.mu.Unlock()
	if q != nil {
		q.mu.Lock()
		q.kill()
		s.dropQueueSubs(q)
		q.mu.Unlock()
	}
	return nil
}

// ListQueues lists a project's queues in name order after the marker (Q4).
func (s *Store) ListQueues(ctx context.Context, p store.ListQueuesParams) ([]store.QueueInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckProject(p.Project); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "queue list limit"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed()
	}
	var out []store.QueueInfo
	pivot := &queue{ref: store.QueueRef{Project: p.Project, Name: p.Marker}}
	s.byName.AscendGreaterOrEqual(pivot, func(q *queue) bool {
		if q.ref.Project != p.Project {
			return false
		}
		if q.ref.Name == p.Marker {
			return true
		}
		out = append(out, q.info(p.WithMetadata))
		return len(out) < p.Limit
	})
	return out, nil
}

// QueueStats counts a queue's messages from its counters (Q5), or returns
// ErrNotFound.
func (s *Store) QueueStats(ctx context.Context, p store.QueueStatsParams) (store.Stats, error) {
	if err := ctx.Err(); err != nil {
		return store.Stats{}, err
	}
	if err := p.Queue.Check(); err != nil {
		return store.Stats{}, err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if err != nil {
		return store.Stats{}, err
	}
	if q == nil {
		return store.Stats{}, notFound(p.Queue)
	}
	st := store.Stats{
		Free:    q.total - q.claimed - q.delayedN,
		Claimed: q.claimed,
		Delayed: q.delayedN,
		Total:   q.total,
		Damaged: s.damagedCount(p.Queue),
	}
	if it, ok := q.all.Min(); ok {
		st.Oldest = &store.MessageRef{ID: it.k.id(), Created: toTime(q.msgs.items[it.i].created)}
	}
	if it, ok := q.all.Max(); ok {
		st.Newest = &store.MessageRef{ID: it.k.id(), Created: toTime(q.msgs.items[it.i].created)}
	}
	q.mu.Unlock()
	return st, nil
}

// PurgeQueue removes every message and ends every claim; metadata and
// dedup entries stay (Q6).
func (s *Store) PurgeQueue(ctx context.Context, p store.PurgeQueueParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Queue.Check(); err != nil {
		return err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		return err
	}
	q.purge()
	s.dropDamaged(p.Queue)
	q.mu.Unlock()
	return nil
}

// Sweep removes up to p.Limit expired messages, claims, dedup entries and
// subscriptions with their deliveries (B1). Each queue is advanced through
// its due indexes, and subscriptions are found through their expiry index,
// so the cost follows the expired items plus one check per queue.
func (s *Store) Sweep(ctx context.Context, p store.SweepParams) (store.SweepResult, error) {
	if err := ctx.Err(); err != nil {
		return store.SweepResult{}, err
	}
	var res store.SweepResult
	if err := store.CheckLimit(p.Limit, "sweep limit"); err != nil {
		return res, err
	}
	now := s.observe(p.Now)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return res, errClosed()
	}
	qs := make([]*queue, 0, len(s.queues))
	for _, q := range s.queues {
		qs = append(qs, q)
	}
	s.mu.RUnlock()
	budget := p.Limit
	for _, q := range qs {
		q.mu.Lock()
		if q.dead {
			q.mu.Unlock()
			continue
		}
		if budget == 0 {
			res.More = q.pending(now)
			q.mu.Unlock()
			if res.More {
				break
			}
			continue
		}
		if !q.pending(now) {
			q.mu.Unlock()
			continue
		}
		if now > q.now {
			q.now = now
		}
		// runDue also spends budget on delayed messages it makes ready,
		// so one call stays bounded.
		var more bool
		budget, more = q.runDue(q.now, budget, &res)
		q.mu.Unlock()
		if more {
			res.More = true
			break
		}
	}
	if !res.More {
		_, res.More = s.sweepSubs(now, budget, &res)
	}
	return res, nil
}
