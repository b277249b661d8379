package memory

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/heraldmq/herald/store"
)

var _ store.DamageKeeper = (*Store)(nil)

// damage holds the damaged messages set aside (M11, store.DamagedMessage),
// per queue whose damaged set took them. Its lock is taken inside queue
// locks, never the other way round.
type damage struct {
	mu   sync.Mutex
	sets map[store.QueueRef]map[store.ID]*store.DamagedMessage
	hook func(store.QueueRef, []store.DamagedMessage)
}

// aside is what one call set aside, reported to the hook once the call
// has let go of its locks.
type aside struct {
	to store.QueueRef
	ms []store.DamagedMessage
}

// intact reports whether m's body still matches its checksum.
func (m *message) intact() bool { return store.Intact(m.body, m.sum) }

// setAside takes the damaged messages bad out of q, which is locked, and
// keeps them in the damaged set of q's dead-letter queue, or of q itself
// when it has none. Each message must still be in q's indexes as its
// state says, or out of ready only (taken by DeleteMin).
func (s *Store) setAside(q *queue, bad []*message, now int64, out *aside) {
	if len(bad) == 0 {
		return
	}
	to := q.ref
	if d := q.conf.Load().opts.DeadLetterQueue; d != "" && d != q.ref.Name {
		to.Name = d
		// Created if missing, as a dead-letter move does (C6), so that
		// its Stats show what it holds. Taking the directory lock inside
		// a queue lock is allowed: its holders never wait for another.
		_, _, _ = s.create(to, emptyConf, now, 0) // only ErrClosed, and then nothing matters
	}
	// A set lives only as long as its queue: DeleteQueue drops it under
	// the directory lock, so record only while the queue is still in the
	// directory. A dead-letter queue deleted since it was made above sends
	// the damage to the source queue's own set; a source queue being
	// deleted takes its messages, damaged ones too, with it.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if to != q.ref && s.queues[to] == nil {
		to = q.ref
	}
	if s.queues[q.ref] != q {
		for _, m := range bad {
			if m.state != stGone {
				q.remove(m)
			}
		}
		return
	}
	out.to = to
	s.dmg.mu.Lock()
	defer s.dmg.mu.Unlock()
	if s.dmg.sets == nil {
		s.dmg.sets = make(map[store.QueueRef]map[store.ID]*store.DamagedMessage)
	}
	set := s.dmg.sets[to]
	if set == nil {
		set = make(map[store.ID]*store.DamagedMessage)
		s.dmg.sets[to] = set
	}
	for _, m := range bad {
		if m.state == stGone { // named twice
			continue
		}
		d := &store.DamagedMessage{
			ID:       m.k.id(),
			Queue:    q.ref.Name,
			Created:  toTime(m.created),
			Found:    toTime(now),
			Body:     m.body,
			Checksum: m.sum,
		}
		q.remove(m)
		set[d.ID] = d
		out.ms = append(out.ms, *d)
	}
}

// report hands what a call set aside to the hook, outside every lock.
func (s *Store) report(a *aside) {
	if len(a.ms) == 0 {
		return
	}
	s.dmg.mu.Lock()
	hook := s.dmg.hook
	s.dmg.mu.Unlock()
	if hook != nil {
		hook(a.to, a.ms)
	}
}

// damagedCount returns the size of ref's damaged set.
func (s *Store) damagedCount(ref store.QueueRef) int64 {
	s.dmg.mu.Lock()
	defer s.dmg.mu.Unlock()
	return int64(len(s.dmg.sets[ref]))
}

// dropDamaged forgets ref's damaged set (queue delete and purge, Q6).
func (s *Store) dropDamaged(ref store.QueueRef) {
	s.dmg.mu.Lock()
	delete(s.dmg.sets, ref)
	s.dmg.mu.Unlock()
}

// ListDamaged returns up to Limit of a queue's damaged messages after
// Marker, in ID order.
func (s *Store) ListDamaged(ctx context.Context, p store.ListDamagedParams) ([]store.DamagedMessage, error) {
	if err := ctx.Err(); err != nil { // E1
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	if _, err := s.lookup(p.Queue); err != nil {
		return nil, err
	}
	s.dmg.mu.Lock()
	defer s.dmg.mu.Unlock()
	set := s.dmg.sets[p.Queue]
	ids := make([]store.ID, 0, len(set))
	for id := range set {
		if id.Compare(p.Marker) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, store.ID.Compare)
	out := make([]store.DamagedMessage, 0, min(len(ids), p.Limit))
	for _, id := range ids[:min(len(ids), p.Limit)] {
		d := *set[id]
		d.Body = bytes.Clone(d.Body)
		out = append(out, d)
	}
	return out, nil
}

// DeleteDamaged forgets damaged messages of a queue's damaged set.
func (s *Store) DeleteDamaged(ctx context.Context, p store.DeleteDamagedParams) error {
	if err := ctx.Err(); err != nil { // E1
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	if _, err := s.lookup(p.Queue); err != nil {
		return err
	}
	s.dmg.mu.Lock()
	defer s.dmg.mu.Unlock()
	set := s.dmg.sets[p.Queue]
	for _, id := range p.IDs {
		delete(set, id)
	}
	if len(set) == 0 {
		delete(s.dmg.sets, p.Queue)
	}
	return nil
}

// OnDamage sets the hook that hears of each batch set aside.
func (s *Store) OnDamage(fn func(store.QueueRef, []store.DamagedMessage)) {
	s.dmg.mu.Lock()
	s.dmg.hook = fn
	s.dmg.mu.Unlock()
}
