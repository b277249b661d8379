package herald

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald/internal/projcount"
	"github.com/heraldmq/herald/internal/unplaced"
	"github.com/heraldmq/herald/store"
)

// router says which pool holds each queue (P1). With a catalog it caches
// placements in memory: the catalog in the management store is the source
// of truth, but only this Service writes it, so a placement once read or
// made stays valid until this Service deletes the queue, and the hot path
// is one sync.Map load with no store round trip. Without a catalog
// (Options.Store, or one pool whose store has none) every queue is on the
// one pool.
type router struct {
	// single, if set, is the entry of every queue: there is no catalog.
	single *entry
	// cat is the catalog, in catStore (nil without a catalog).
	cat      store.Cataloger
	catStore store.Store

	// mu guards pools and their weights. Placing a queue holds it shared
	// from choosing the pool to writing the placement, so RemovePool,
	// holding it exclusively, never removes a pool a queue is being
	// placed on.
	mu    sync.RWMutex
	pools []*pool

	// cache maps store.QueueRef to *entry for placed queues.
	cache sync.Map
	// locks serialise reading, making and deleting the placement of one
	// queue (a stripe per hash of its ref); nothing else waits on them.
	// placeAfter holds one across another queue's metadata write, which
	// takes no router lock.
	locks [64]sync.Mutex
	seed  maphash.Seed

	randMu sync.Mutex
	rand   *rand.Rand

	// quota is the Service's limits on new queues (L1), applied by each
	// pool's store as it creates a queue there, and across pools through
	// counts of each project's placements.
	quota  store.Quota
	counts projcount.Counts
}

// entry is a placed queue: its pool never changes. Calls that may create
// the queue in its store (post, create, transaction posts) hold mu shared
// around the store call; deleting the queue holds it exclusively and then
// marks the entry gone, so no post can recreate a queue in a store after
// its placement is deleted (which would strand its messages).
type entry struct {
	pool *pool
	mu   sync.RWMutex
	// gone is set, under mu held exclusively, once the queue and its
	// placement are deleted; it is read without mu by handles that cache
	// the entry.
	gone atomic.Bool
}

// nowhere is the entry of an unplaced queue: a queue that does not exist.
var nowhere = &entry{pool: &pool{name: "", store: unplaced.Store{}}}

func newRouter(rnd *rand.Rand) *router {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &router{rand: rnd, seed: maphash.MakeSeed()}
}

func (r *router) lock(ref store.QueueRef) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(ref.Project)
	h.WriteByte('/')
	h.WriteString(ref.Name)
	return &r.locks[h.Sum64()%uint64(len(r.locks))]
}

func (r *router) setPools(ps []*pool) { r.pools = ps }

// snapshot returns the pools as they are now.
func (r *router) snapshot() []*pool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.pools
}

// named returns the pool called name; r.mu must be held.
func (r *router) named(name string) (*pool, error) {
	for _, p := range r.pools {
		if p.name == name {
			return p, nil
		}
	}
	return nil, store.Errorf(ErrNotFound, "pool %q: no such pool", name)
}

// has reports whether p is still configured.
func (r *router) has(p *pool) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.present(p)
}

// present reports whether p is still configured; r.mu must be held.
func (r *router) present(p *pool) bool {
	for _, q := range r.pools {
		if q == p {
			return true
		}
	}
	return false
}

// lookup returns the entry of ref: its pool's, or nowhere if the catalog
// places it nowhere. A cached placement costs one map load.
func (r *router) lookup(ctx context.Context, ref store.QueueRef) (*entry, error) {
	if r.single != nil {
		return r.single, nil
	}
	if e, ok := r.cache.Load(ref); ok {
		return e.(*entry), nil
	}
	l := r.lock(ref)
	l.Lock()
	defer l.Unlock()
	return r.load(ctx, ref)
}

// load returns ref's entry from the cache or the catalog, caching what it
// finds; the ref's lock must be held.
func (r *router) load(ctx context.Context, ref store.QueueRef) (*entry, error) {
	if e, ok := r.cache.Load(ref); ok {
		return e.(*entry), nil
	}
	pl, err := r.cat.GetPlacement(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return nowhere, nil
	}
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	p, err := r.named(pl.Pool)
	r.mu.RUnlock()
	if err != nil {
		return nil, store.Errorf(ErrNotFound, "queue %q in project %q: on pool %q, which this Service does not have", ref.Name, ref.Project, pl.Pool)
	}
	e := &entry{pool: p}
	r.cache.Store(ref, e)
	return e, nil
}

// placement says where place may put a new queue.
type placement struct {
	// on, if set, is the pool the queue must go to (next to its
	// dead-letter queue or its transaction's other queues), whatever its
	// weight.
	on *pool
	// flavor, if set, limits the choice to the flavor's pools.
	flavor *store.FlavorRecord
	// meta is the new queue's metadata (nil means {}).
	meta json.RawMessage
	// pastLimit creates the queue whatever its project holds: a
	// dead-letter queue a give-up move needs (L1, see store.Quota).
	pastLimit bool
}

// place returns ref's entry, placing the queue first if the catalog has
// it nowhere: it chooses a pool, creates the queue in the pool's store
// with pl.meta at clock's time, then records the placement, and reports
// created. A queue already placed is left alone (pl is not checked
// against it).
func (r *router) place(ctx context.Context, ref store.QueueRef, pl placement, clock func() time.Time) (e *entry, created bool, err error) {
	if e, ok := r.cache.Load(ref); ok {
		return e.(*entry), false, nil
	}
	l := r.lock(ref)
	l.Lock()
	defer l.Unlock()
	if e, err = r.load(ctx, ref); e != nowhere || err != nil {
		return e, false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, err := r.choose(ref, pl)
	if err != nil {
		return nil, false, err
	}
	return r.put(ctx, ref, p, pl.meta, pl.pastLimit, clock)
}

// put creates ref in p's store with meta at clock's time (a queue already
// there is left alone) and records that ref is on p; ref's lock and r.mu
// (shared) must be held, and the catalog must have ref nowhere. The
// project's queue limit applies unless pastLimit.
func (r *router) put(ctx context.Context, ref store.QueueRef, p *pool, meta json.RawMessage, pastLimit bool, clock func() time.Time) (*entry, bool, error) {
	c, err := r.counts.Lock(ctx, r.cat, ref.Project)
	if err != nil {
		return nil, false, err
	}
	defer c.Unlock()
	quota := r.quota
	if pastLimit {
		quota.QueuesPerProject = 0
	}
	if limit := quota.QueuesPerProject; !store.Admits(c.N(), limit) {
		return nil, false, store.QueueCapErr(ref, c.N(), limit)
	}
	now := clock() // only now: reading the clock is not free
	created, err := p.store.CreateQueue(ctx, store.CreateQueueParams{Queue: ref, Metadata: meta, Quota: quota, Now: now})
	if err != nil {
		return nil, false, err
	}
	if err := r.cat.PutPlacement(ctx, store.Placement{Queue: ref, Pool: p.name, Created: now}); err != nil {
		return nil, false, err
	}
	c.Inc()
	e := &entry{pool: p}
	r.cache.Store(ref, e)
	return e, created, nil
}

// room gives ErrTooMany for ref unless its project has room for n more
// queues (L1): a check before a call places several, so that it is not
// refused after placing some. Each placement checks again.
func (r *router) room(ctx context.Context, ref store.QueueRef, n int) error {
	limit := r.quota.QueuesPerProject
	if limit <= 0 {
		return nil
	}
	c, err := r.counts.Lock(ctx, r.cat, ref.Project)
	if err != nil {
		return err
	}
	defer c.Unlock()
	if c.N()+n > limit {
		return store.Errorf(ErrTooMany, "queue %q in project %q needs %d new queues (with its dead-letter queue): the project has %d queues, the limit (Limits.MaxQueuesPerProject %d); delete one first", ref.Name, ref.Project, n, c.N(), limit)
	}
	return nil
}

// placeAfter runs write with ref's entry (nowhere if the catalog has it
// nowhere) and then, if write succeeded and ref is nowhere, places ref on
// p, creating it there, empty, if p's store does not have it. ref's
// placement cannot change from the call to write until ref is placed, so
// what write saw still holds; and a write that fails places nothing.
// Placing runs even if ctx ends after write succeeded. wrote reports
// whether write succeeded, so that a caller can tell its error from one
// in placing.
func (r *router) placeAfter(ctx context.Context, ref store.QueueRef, p *pool, clock func() time.Time, write func(*entry) error) (wrote bool, err error) {
	l := r.lock(ref)
	l.Lock()
	defer l.Unlock()
	e, err := r.load(ctx, ref)
	if err != nil {
		return false, err
	}
	if err := write(e); err != nil {
		return false, err
	}
	if e != nowhere {
		return true, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.present(p) {
		return true, store.Errorf(ErrNoPool, "queue %q in project %q: pool %q was removed", ref.Name, ref.Project, p.name)
	}
	_, _, err = r.put(context.WithoutCancel(ctx), ref, p, nil, false, clock)
	return true, err
}

// choose picks the pool for a new queue (P2); r.mu must be held.
func (r *router) choose(ref store.QueueRef, pl placement) (*pool, error) {
	if pl.on != nil {
		if !r.present(pl.on) {
			return nil, store.Errorf(ErrNoPool, "queue %q in project %q: pool %q was removed", ref.Name, ref.Project, pl.on.name)
		}
		if pl.flavor != nil && !flavorHas(pl.flavor, pl.on.name) {
			return nil, store.Errorf(ErrCrossPool, "queue %q in project %q: must go to pool %q, which flavor %q does not name", ref.Name, ref.Project, pl.on.name, pl.flavor.Name)
		}
		return pl.on, nil
	}
	var total int64
	eligible := make([]*pool, 0, len(r.pools))
	for _, p := range r.pools {
		ok := p.weight > 0
		if pl.flavor != nil {
			ok = ok && flavorHas(pl.flavor, p.name)
		} else {
			ok = ok && !p.flavorOnly
		}
		if ok {
			eligible = append(eligible, p)
			total += int64(p.weight)
		}
	}
	if total == 0 {
		if pl.flavor != nil {
			return nil, store.Errorf(ErrNoPool, "queue %q in project %q: flavor %q has no pool with a weight above 0", ref.Name, ref.Project, pl.flavor.Name)
		}
		return nil, store.Errorf(ErrNoPool, "queue %q in project %q: no pool outside flavors has a weight above 0", ref.Name, ref.Project)
	}
	r.randMu.Lock()
	n := r.rand.Int64N(total)
	r.randMu.Unlock()
	for _, p := range eligible {
		if n < int64(p.weight) {
			return p, nil
		}
		n -= int64(p.weight)
	}
	panic("unreachable: n < total")
}

func flavorHas(f *store.FlavorRecord, pool string) bool {
	for _, p := range f.Pools {
		if p == pool {
			return true
		}
	}
	return false
}

// unplace deletes the queue of e from its store and then its placement
// (Q6), waiting for creating calls in flight on it; a post after that
// places the queue anew.
func (r *router) unplace(ctx context.Context, ref store.QueueRef, e *entry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone.Load() {
		return nil
	}
	if err := e.pool.store.DeleteQueue(ctx, store.DeleteQueueParams{Queue: ref}); err != nil {
		return err
	}
	l := r.lock(ref)
	l.Lock()
	defer l.Unlock()
	if err := r.cat.DeletePlacement(ctx, ref); err != nil {
		return err
	}
	r.counts.Add(ref.Project, -1)
	r.cache.CompareAndDelete(ref, e)
	e.gone.Store(true)
	return nil
}

// adopt records that ref, which exists in p's store without a placement
// (a dead-letter queue a claim's move created, C6), is on p. It reports
// the pool the queue is on if that is another.
func (r *router) adopt(ctx context.Context, ref store.QueueRef, p *pool) (*pool, error) {
	if r.single != nil {
		return nil, nil
	}
	l := r.lock(ref)
	l.Lock()
	defer l.Unlock()
	e, err := r.load(ctx, ref)
	if err != nil || e != nowhere {
		if err == nil && e.pool != p {
			return e.pool, nil
		}
		return nil, err
	}
	info, err := p.store.GetQueue(ctx, store.GetQueueParams{Queue: ref})
	if errors.Is(err, ErrNotFound) {
		return nil, nil // deleted meanwhile: nothing to adopt
	}
	if err != nil {
		return nil, err
	}
	if err := r.cat.PutPlacement(ctx, store.Placement{Queue: ref, Pool: p.name, Created: info.Created}); err != nil {
		return nil, err
	}
	r.counts.Add(ref.Project, 1) // past the limit too: see store.Quota
	r.cache.Store(ref, &entry{pool: p})
	return nil, nil
}

// stores lists every store the router holds: its pools' and the catalog's.
func (r *router) stores() []store.Store {
	r.mu.Lock()
	defer r.mu.Unlock()
	sts := make([]store.Store, 0, len(r.pools)+1)
	for _, p := range r.pools {
		sts = append(sts, p.store)
	}
	if r.catStore != nil {
		sts = append(sts, r.catStore)
	}
	return sts
}
