package herald

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/heraldmq/herald/store"
)

// hold returns the entry of ref for a call that may create the queue in
// its store (a post, a create), placing the queue with pl first if the
// catalog has it nowhere, and reports whether placing created it. Until
// unhold, a DeleteQueue of the queue waits, so the call cannot recreate
// the queue behind a deleted placement.
func (s *Service) hold(ctx context.Context, ref store.QueueRef, pl placement) (*entry, bool, error) {
	return s.holdCached(ctx, ref, pl, nil)
}

// holdCached is hold that first tries, and then updates, a handle's
// cached entry (see Queue.at); at may be nil.
func (s *Service) holdCached(ctx context.Context, ref store.QueueRef, pl placement, at *atomic.Pointer[entry]) (*entry, bool, error) {
	r := s.router
	if r.single != nil {
		return r.single, false, nil
	}
	if at != nil {
		if e := at.Load(); e != nil {
			e.mu.RLock()
			if !e.gone.Load() {
				return e, false, nil
			}
			e.mu.RUnlock()
		}
	}
	for {
		e, created, err := r.place(ctx, ref, pl, s.now)
		if err != nil {
			return nil, false, err
		}
		e.mu.RLock()
		if !e.gone.Load() {
			if at != nil {
				at.Store(e)
			}
			return e, created, nil
		}
		e.mu.RUnlock() // deleted meanwhile: place it again
	}
}

// unhold ends what hold began.
func (s *Service) unhold(e *entry) {
	if s.router.single == nil {
		e.mu.RUnlock()
	}
}

// placementFor works out where a new queue with metadata raw (already
// checked) may go: on its flavor's pools (P4), and next to its dead-letter
// queue, which it places first if the catalog has it nowhere (C6, P5).
func (s *Service) placementFor(ctx context.Context, ref store.QueueRef, raw json.RawMessage) (placement, error) {
	pl := placement{meta: raw}
	o, err := store.ParseQueueOptions(raw)
	if err != nil {
		return pl, err
	}
	if o.Flavor != "" {
		f, err := s.flavorFor(ctx, ref.Project, o.Flavor)
		if err != nil {
			return pl, err
		}
		pl.flavor = &f
	}
	if o.DeadLetterQueue != "" {
		d := store.QueueRef{Project: ref.Project, Name: o.DeadLetterQueue}
		// Placing the dead-letter queue creates it: not if ref would
		// then be refused (L1), since a refused call changes nothing.
		if de, err := s.router.lookup(ctx, d); err != nil {
			return pl, err
		} else if de == nowhere && d != ref {
			if err := s.router.room(ctx, ref, 2); err != nil {
				return pl, err
			}
		}
		e, _, err := s.hold(ctx, d, placement{flavor: pl.flavor})
		if err != nil {
			return pl, err
		}
		s.unhold(e)
		pl.on = e.pool
	}
	return pl, nil
}

// flavorFor returns the flavor a queue's _flavor names, or an
// ErrInvalidMetadata error if the project has no such flavor.
func (s *Service) flavorFor(ctx context.Context, project, name string) (store.FlavorRecord, error) {
	f, err := s.router.cat.GetFlavor(ctx, project, name)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		return f, store.Errorf(ErrInvalidMetadata, "%s %q: no such flavor in project %q", store.KeyFlavor, name, project)
	}
	return f, err
}

// colocate runs write, which stores metadata raw (already checked) for
// the queue ref on e, making sure that a flavor raw names exists and that
// its dead-letter queue lives on e's pool (C6, P5). It checks before write
// and changes nothing itself until write has succeeded: a flavor the
// project does not have gives ErrInvalidMetadata, and a dead-letter queue
// placed on another pool ErrCrossPool. Once write succeeded, a dead-letter
// queue the catalog has nowhere is placed on e's pool, and created there,
// empty, if e's store does not have it. So a write that fails (a lost
// compare-and-swap of UpdateMetadata) leaves no queue behind. If placing
// fails after the write, that is logged and not returned, since the
// metadata did change: the dead-letter queue is then missing, as after a
// DeleteQueue of it, and the first message a claim moves there creates it
// on e's pool (see adoptDeadLetters).
func (s *Service) colocate(ctx context.Context, ref store.QueueRef, e *entry, raw json.RawMessage, write func() error) error {
	if s.router.single != nil || e == nowhere {
		return write()
	}
	o, err := store.ParseQueueOptions(raw)
	if err != nil {
		return err
	}
	if o.Flavor != "" {
		if _, err := s.flavorFor(ctx, ref.Project, o.Flavor); err != nil {
			return err
		}
	}
	if o.DeadLetterQueue == "" {
		return write()
	}
	d := store.QueueRef{Project: ref.Project, Name: o.DeadLetterQueue}
	wrote, err := s.router.placeAfter(ctx, d, e.pool, s.now, func(de *entry) error {
		if de != nowhere && de.pool != e.pool {
			return store.Errorf(ErrCrossPool, "%s %q: on pool %q, but queue %q is on pool %q", store.KeyDeadLetterQueue, d.Name, de.pool.name, ref.Name, e.pool.name)
		}
		return write()
	})
	if wrote && err != nil {
		s.log.Error("herald: could not place a new dead-letter queue on its source's pool; the first dead-letter move will",
			"queue", ref.Name, "project", ref.Project, "dead_letter_queue", d.Name, "pool", e.pool.name, "err", err)
		return nil
	}
	return err
}

// adoptDeadLetters records, after a claim moved messages to ref's
// dead-letter queue dlq in e's store, that dlq is on e's pool (the store
// created it if it was missing). If dlq is placed on another pool, the
// moved messages are in a copy of dlq that the catalog does not route to:
// that is logged as an error.
func (s *Service) adoptDeadLetters(ctx context.Context, ref store.QueueRef, e *entry, dlq string) {
	d := store.QueueRef{Project: ref.Project, Name: dlq}
	other, err := s.router.adopt(ctx, d, e.pool)
	switch {
	case err != nil:
		s.log.Error("herald: could not record the pool of a dead-letter queue", "queue", ref.Name, "project", ref.Project, "dead_letter_queue", dlq, "pool", e.pool.name, "err", err)
	case other != nil:
		s.log.Error("herald: dead-letter queue is on another pool; moved messages are stranded on the source's pool",
			"queue", ref.Name, "project", ref.Project, "dead_letter_queue", dlq, "pool", e.pool.name, "dead_letter_pool", other.name)
	}
}
