package herald

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/heraldmq/herald/internal/gate"
	"github.com/heraldmq/herald/internal/owner"
	"github.com/heraldmq/herald/internal/sched"
	"github.com/heraldmq/herald/internal/wake"
	"github.com/heraldmq/herald/store"
)

// ID identifies a message or a claim (an alias of store.ID). It is a
// 16-byte ULID: 48 bits of Unix milliseconds, then 80 bits that make it
// unique. Message IDs increase per queue in commit order (M2); claim IDs
// are fencing tokens (C3). The zero ID means "none". ParseID reads the
// 26-character text form that String writes; IDs compare with ==.
type ID = store.ID

// ParseID parses the text form of an ID, or returns ErrInvalidID.
func ParseID(s string) (ID, error) { return store.ParseID(s) }

// Options configure a Service.
type Options struct {
	// Store holds the queues: the Service has one pool, named "default",
	// with weight 1, and no catalog. Exactly one of Store and Pools is
	// required (ErrInvalid otherwise). The Service owns the store and
	// closes it on Close. A store serves one Service: New (and AddPool)
	// refuse a store another live Service holds (ErrInvalid), since
	// blocked claimers and push delivery are woken by the Service that
	// made a change.
	Store store.Store
	// Pools are the named stores a Service with many stores places its
	// queues on (P1, P2); see Pool. The Service owns their stores and
	// closes them on Close. A queue's placement is kept in the catalog,
	// which must be a store.Cataloger when there is more than one pool.
	// Pools themselves are not stored: pass the same pools (names and
	// stores) to New after a restart, or queues placed on a missing one
	// give ErrNotFound.
	Pools []Pool
	// Catalog is the management store that keeps the catalog (P1): which
	// pool holds each queue, and the flavors. Zero means the first pool's
	// store. A Catalog that is not one of the pools' stores is owned by
	// the Service too and closed on Close. Only with Pools.
	Catalog store.Store
	// Rand drives the weighted choice of a new queue's pool (P2). Zero
	// means a randomly seeded source; tests pass a seeded one. The
	// Service owns it: it must not be used elsewhere afterwards.
	Rand *rand.Rand
	// Limits bound what callers may ask; zero fields take their defaults.
	Limits Limits
	// Now is the clock. Zero means time.Now. Timers (blocking claims, the
	// scheduler, the sweeper) use the runtime's clock, so a custom Now is
	// for tests that drive time by hand and do not block.
	Now func() time.Time
	// SweepInterval is how often the sweeper removes expired messages,
	// claims and dedup entries (B1). Zero means 10 seconds; negative turns
	// the sweeper off (Sweep can still be called). Correctness never
	// depends on it: expired items are invisible before any sweep (B4).
	SweepInterval time.Duration
	// SweepBatch bounds the items one sweep step removes, so sweeping never
	// stalls writers for long. Zero means 1,000.
	SweepBatch int
	// Logger receives background errors. Zero means slog.Default().
	Logger *slog.Logger
	// Notify configures push delivery to subscriptions, for stores that
	// implement store.Subscriber.
	Notify NotifyOptions
}

// Service is herald inside a process: queues grouped by project, backed by
// a store, with the background sweeper and claim scheduler running. A
// Service is safe for concurrent use.
type Service struct {
	router  *router
	limits  Limits
	now     func() time.Time
	log     *slog.Logger
	batch   int
	gate    *gate.Gate
	waiters *wake.Waiters
	sched   *sched.Scheduler
	// consumers are the running Consume loops, stopped first by Close.
	consumers *consumers
	notify    *notifier
	observers *observers
	// aside are dead-letter queues damaged bodies went to (damage.go).
	aside asideQueues

	stop      context.CancelFunc
	bg        sync.WaitGroup
	closeErr  error
	closeDone chan struct{}
}

// New starts a Service over opts.Store or opts.Pools: it starts the
// sweeper and the claim scheduler (B3). Invalid Limits or pools give an
// ErrInvalid error, and more than one pool with a catalog store that is
// not a store.Cataloger an errors.ErrUnsupported one; the stores are then
// still open and still the caller's to close — except a store another
// live Service holds (ErrInvalid, B5): it is that Service's, and closing
// it would close it under that Service.
func New(opts Options) (*Service, error) {
	limits, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Notify.Client != nil && opts.Notify.DenyPrivateTargets {
		return nil, store.Errorf(ErrInvalid, "Notify: DenyPrivateTargets applies to the default client only; a custom Client must do its own checks")
	}
	r, err := newRouterFor(opts)
	if err != nil {
		return nil, err
	}
	r.quota = limits.quota()
	s := &Service{
		router:    r,
		limits:    limits,
		now:       opts.Now,
		log:       opts.Logger,
		batch:     opts.SweepBatch,
		gate:      gate.New(),
		waiters:   wake.New(),
		consumers: newConsumers(),
		closeDone: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.batch <= 0 {
		s.batch = 1000
	}
	if err := owner.Take(s, r.stores()...); err != nil {
		return nil, err
	}
	for _, p := range r.pools {
		s.watchStore(p)
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.notify = newNotifier(ctx, s, opts.Notify)
	s.observers = newObservers(s.log)
	s.sched = sched.New(s.now, s.waiters.WakeAll)
	s.bg.Go(func() { s.sched.Run(ctx) })
	s.bg.Go(func() { s.notify.run(ctx) })
	interval := opts.SweepInterval
	if interval == 0 {
		interval = 10 * time.Second
	}
	if interval > 0 {
		s.bg.Go(func() { s.sweepEvery(ctx, interval) })
	}
	return s, nil
}

// Close stops running Consume loops (each within its StopTimeout), stops
// accepting calls, wakes blocked claimers (they return ErrClosed), waits
// for calls in flight, stops the background goroutines and closes the
// stores of every pool and the catalog's, each once (B3). Close is idempotent: later calls wait for the first and
// return its result.
func (s *Service) Close() error {
	s.consumers.close()
	s.stop() // ends a running sweep between batches
	if s.gate.Shut() {
		s.bg.Wait()
		s.notify.confirms.Wait()
		s.observers.close()
		sts := s.router.stores()
		s.closeErr = s.router.close()
		owner.Give(s, sts...)
		close(s.closeDone)
	}
	<-s.closeDone
	return s.closeErr
}

// Limits returns the limits in force, defaults filled in.
func (s *Service) Limits() Limits { return s.limits }

// Project returns the handle of a project (T1). The id is checked when the
// handle is used: at most 256 bytes, no '/', no control characters. "" is
// the default project.
func (s *Service) Project(id string) *Project { return &Project{s: s, id: id} }

// Queue returns a queue of the default project; see Project.Queue.
func (s *Service) Queue(name string) *Queue { return s.Project("").Queue(name) }

// newRouterFor checks the store options and makes the router.
func newRouterFor(opts Options) (*router, error) {
	r := newRouter(opts.Rand)
	switch {
	case opts.Store != nil && len(opts.Pools) > 0:
		return nil, store.Errorf(ErrInvalid, "options: both Store and Pools are set; give one")
	case opts.Store == nil && len(opts.Pools) == 0:
		return nil, store.Errorf(ErrInvalid, "options: neither Store nor Pools is set; give one")
	case opts.Store != nil && opts.Catalog != nil:
		return nil, store.Errorf(ErrInvalid, "options: Catalog is set without Pools")
	case opts.Store != nil:
		p := &pool{name: "default", store: opts.Store, weight: 1}
		r.pools = []*pool{p}
		r.single = &entry{pool: p}
		return r, nil
	}
	for _, p := range opts.Pools {
		if err := checkPool(p, r.pools); err != nil {
			return nil, err
		}
		r.pools = append(r.pools, &pool{name: p.Name, store: p.Store, weight: p.Weight, flavorOnly: p.FlavorOnly})
	}
	r.catStore = opts.Catalog
	if r.catStore == nil {
		r.catStore = r.pools[0].store
	}
	cat, ok := r.catStore.(store.Cataloger)
	switch {
	case ok:
		r.cat = cat
	case opts.Catalog != nil || len(r.pools) > 1:
		return nil, store.Errorf(errors.ErrUnsupported, "options: catalog store %T does not implement store.Cataloger", r.catStore)
	default: // one pool, no catalog: every queue is on it
		r.single = &entry{pool: r.pools[0]}
		r.catStore = nil
	}
	return r, nil
}

// close closes every pool's store and the catalog's, each once. Without a
// catalog it returns the one store's error as it is.
func (r *router) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cat == nil {
		return r.pools[0].store.Close()
	}
	var errs []error
	own := true
	for _, p := range r.pools {
		if p.store == r.catStore {
			own = false
		}
		if err := p.store.Close(); err != nil {
			errs = append(errs, store.Wrapf(err, "close pool %q", p.name))
		}
	}
	if own {
		if err := r.catStore.Close(); err != nil {
			errs = append(errs, store.Wrapf(err, "close the catalog"))
		}
	}
	return errors.Join(errs...)
}

// route returns the entry of the queue ref names (P1): its pool, or
// nowhere for a queue that is placed nowhere, that is, does not exist.
// Every queue operation goes through it or through place.
func (s *Service) route(ctx context.Context, ref store.QueueRef) (*entry, error) {
	if err := ref.Check(); err != nil {
		return nil, err
	}
	return s.router.lookup(ctx, ref)
}

// posted tells everything that follows posts about a successful one:
// blocked claimers, the delivery dispatcher and in-process observers.
func (s *Service) posted(ref store.QueueRef, clientID string, drafts []Draft, ids []ID, now time.Time) {
	s.waiters.Wake(ref, len(drafts))
	s.notify.posted()
	s.observers.posted(ref, clientID, drafts, ids, now)
}
