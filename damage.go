package herald

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/heraldmq/herald/store"
)

// DamagedMessage is a message set aside because its stored body failed
// its checksum (M11). Fields: ID, Queue (the queue it was in), Created,
// Found (when it was set aside), Body (the bytes as stored: do not trust
// them) and Checksum (the CRC32C recorded at post). See
// store.DamagedMessage.
type DamagedMessage = store.DamagedMessage

// DamagedOptions page through a queue's damaged messages.
type DamagedOptions struct {
	// Marker is exclusive: the page starts after it. Zero starts at the
	// oldest.
	Marker ID
	// Limit is the page size; zero means Limits.DefaultPageSize.
	Limit int
}

// Damaged lists the messages set aside in this queue's damaged set, in ID
// order (M11). A message whose body fails its checksum is never returned
// by a claim, pop, list or get: the first of them to meet it leaves it
// out, returns the healthy messages around it, and sets it aside here —
// or, when the queue has a _dead_letter_queue, in that queue's damaged
// set, with DamagedMessage.Queue naming where it came from. Each is
// logged with its id, and counted in Stats.Damaged. A store that keeps no
// damaged set gives an errors.ErrUnsupported error.
func (q *Queue) Damaged(ctx context.Context, o DamagedOptions) ([]DamagedMessage, error) {
	e, err := q.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if o.Limit, err = q.s.limits.pageSize(o.Limit); err != nil {
		return nil, err
	}
	if e == nowhere {
		return nil, nil // a queue placed nowhere has nothing
	}
	dk, ok := e.pool.store.(store.DamageKeeper)
	if !ok {
		return nil, unsupportedDamage(q.ref)
	}
	return dk.ListDamaged(ctx, store.ListDamagedParams{Queue: q.ref, Marker: o.Marker, Limit: o.Limit})
}

// DeleteDamaged forgets damaged messages of this queue's damaged set for
// good; ids it does not hold are skipped.
func (q *Queue) DeleteDamaged(ctx context.Context, ids ...ID) error {
	e, err := q.enter(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := q.s.limits.checkCount(len(ids), "a delete of damaged messages", "ids"); err != nil {
		return err
	}
	if err := store.CheckIDs("message id", ids...); err != nil {
		return err
	}
	if e == nowhere {
		return nil
	}
	dk, ok := e.pool.store.(store.DamageKeeper)
	if !ok {
		return unsupportedDamage(q.ref)
	}
	return dk.DeleteDamaged(ctx, store.DeleteDamagedParams{Queue: q.ref, IDs: ids})
}

func unsupportedDamage(ref store.QueueRef) error {
	return store.Errorf(errors.ErrUnsupported, "queue %q: its store keeps no damaged messages (store.DamageKeeper)", ref.Name)
}

// watchDamage makes the store of pool p log each damaged message it sets
// aside, with its id: the body is lost, and an operator must hear of it.
func (s *Service) watchDamage(p *pool) {
	dk, ok := p.store.(store.DamageKeeper)
	if !ok {
		return
	}
	dk.OnDamage(func(to store.QueueRef, ms []store.DamagedMessage) {
		for _, m := range ms {
			s.log.Error("herald: message body failed its checksum; set aside as damaged",
				"id", m.ID, "queue", m.Queue, "project", to.Project, "damaged_set", to.Name, "pool", p.name)
			if m.Queue != to.Name && s.router.single == nil {
				s.aside.add(to, p, m.Queue)
			}
		}
	})
}

// asideQueues are the dead-letter queues that stores set damaged bodies
// aside in (M11) and whose placement is not yet checked. A store creates
// such a queue when it is missing, as a C6 move does; with a catalog the
// queue must then be placed on that store's pool (P1), counted against
// its project (L1), or the damaged set is in a queue every call answers
// as missing. The store's hook may not call the store, so it notes them
// here and the call that met the damage places them (placeAside).
type asideQueues struct {
	pending atomic.Bool
	mu      sync.Mutex
	m       map[store.QueueRef]asideQueue
}

// asideQueue is where a dead-letter queue that took damaged bodies is,
// and one queue they came from.
type asideQueue struct {
	pool   *pool
	source string
}

func (a *asideQueues) add(dlq store.QueueRef, p *pool, source string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[store.QueueRef]asideQueue)
	}
	a.m[dlq] = asideQueue{pool: p, source: source}
	a.pending.Store(true)
}

// placeAside places the dead-letter queues damaged bodies were set aside
// in since the last call, as adoptDeadLetters does after a move. It costs
// one atomic load when there are none. The set-aside is committed, so the
// placement is made even if ctx has ended.
func (s *Service) placeAside(ctx context.Context) {
	if !s.aside.pending.Load() {
		return
	}
	s.aside.mu.Lock()
	m := s.aside.m
	s.aside.m = nil
	s.aside.pending.Store(false)
	s.aside.mu.Unlock()
	for dlq, a := range m {
		src := store.QueueRef{Project: dlq.Project, Name: a.source}
		s.adoptDeadLetters(context.WithoutCancel(ctx), src, &entry{pool: a.pool}, dlq.Name)
	}
}
