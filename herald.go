package herald

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldmq/herald/store"
)

// ID identifies a message or a claim; see store.ID.
type ID = store.ID

// ParseID parses the text form of an ID, or returns ErrInvalidID.
func ParseID(s string) (ID, error) { return store.ParseID(s) }

// Options configure a Service.
type Options struct {
	// Store holds the queues. Required: New panics without one, since that
	// is a programming error. The Service owns it and closes it on Close.
	Store store.Store
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
	store   store.Store
	limits  Limits
	now     func() time.Time
	log     *slog.Logger
	batch   int
	gate    *gate
	waiters *waiters
	sched   *scheduler
	// consumers are the running Consume loops, stopped first by Close.
	consumers *consumers
	notify    *notifier
	observers *observers

	stop      context.CancelFunc
	bg        sync.WaitGroup
	closeErr  error
	closeDone chan struct{}
}

// New starts a Service over opts.Store: it starts the sweeper and the claim
// scheduler (B3). Invalid Limits give an ErrInvalid error; the store is
// then still open and still the caller's to close.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		panic("herald: Options.Store is nil")
	}
	limits, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:     opts.Store,
		limits:    limits,
		now:       opts.Now,
		log:       opts.Logger,
		batch:     opts.SweepBatch,
		gate:      newGate(),
		waiters:   newWaiters(),
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
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.notify = newNotifier(ctx, s, opts.Notify)
	s.observers = newObservers(s.log)
	s.sched = newScheduler(s.now, s.waiters.wake)
	s.bg.Go(func() { s.sched.run(ctx) })
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
// store (B3). Close is idempotent: later calls wait for the first and
// return its result.
func (s *Service) Close() error {
	s.consumers.close()
	s.stop() // ends a running sweep between batches
	if s.gate.shut() {
		s.bg.Wait()
		s.notify.sends.Wait() // confirmation requests started by late calls
		s.observers.close()
		s.closeErr = s.store.Close()
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

// storeFor is the one step that says which store holds a queue. Every queue
// operation goes through it, so pools can route here later.
func (s *Service) storeFor(ref store.QueueRef) (store.Store, error) {
	if err := ref.Check(); err != nil {
		return nil, err
	}
	return s.store, nil
}

// posted tells everything that follows posts about a successful one:
// blocked claimers, the delivery dispatcher and in-process observers.
func (s *Service) posted(ref store.QueueRef, clientID string, drafts []Draft, ids []ID, now time.Time) {
	s.waiters.wake(ref)
	s.notify.posted()
	s.observers.posted(ref, clientID, drafts, ids, now)
}
