package memory

import (
	"context"
	"time"

	"github.com/google/btree"
	"github.com/heraldmq/herald/store"
)

// Subscriptions as data (S1). A subscription lives in the outbox (guarded
// by subMu) and in its queue's queueSubs; what changes how many a queue
// has (create, delete, sweep, queue delete) also holds the queue's mu, so
// a post sees q.nsubs and the subscriptions agree.

func subNotFound(id store.ID) error {
	return store.Errorf(store.ErrNotFound, "subscription %s not found", id)
}

// CreateSubscription creates a subscription, or returns the live one of
// the same subscriber to the queue, unchanged (S1). The queue is created
// if missing (Q2).
func (s *Store) CreateSubscription(ctx context.Context, p store.CreateSubscriptionParams) (store.Subscription, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Subscription{}, false, err
	}
	opts, err := p.Check()
	if err != nil {
		return store.Subscription{}, false, err
	}
	now := s.observe(p.Now)
	if err := store.CheckSubscriptionDeadline(now, p.TTL); err != nil {
		return store.Subscription{}, false, err
	}
	for {
		q, _, err := s.create(p.Queue, emptyConf, now, p.Quota.QueuesPerProject)
		if err != nil {
			return store.Subscription{}, false, err
		}
		q.mu.Lock()
		if q.dead { // deleted since the lookup: find or make it again
			q.mu.Unlock()
			continue
		}
		sub, created, err := s.addSub(q, &p, opts, now)
		q.mu.Unlock()
		return sub, created, err
	}
}

// addSub is CreateSubscription with q.mu held.
func (s *Store) addSub(q *queue, p *store.CreateSubscriptionParams, opts []byte, now int64) (store.Subscription, bool, error) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	out := s.out
	if out == nil {
		return store.Subscription{}, false, errClosed()
	}
	if q.subs == nil {
		q.subs = newQueueSubs()
	}
	if old := q.subs.byName[p.Subscriber]; old != nil && old.live(now) {
		return old.record(), false, nil
	}
	if !store.Admits(q.nsubs, p.Quota.SubscriptionsPerQueue) {
		return store.Subscription{}, false, store.SubscriptionCapErr(q.ref, q.nsubs, p.Quota.SubscriptionsPerQueue)
	}
	s.idMu.Lock()
	id := s.ids.Next(time.Unix(0, now))
	s.idMu.Unlock()
	sb := &sub{
		k: keyOf(id), q: q, qs: q.subs,
		subscriber: p.Subscriber,
		ttl:        int64(p.TTL),
		options:    opts,
		confirmed:  p.Confirmed,
		created:    now,
		expires:    now + int64(p.TTL),
		dels:       make(map[key]*delivery),
		failed:     btree.NewG(degree, lessDelivery),
	}
	// An expired subscription of the same subscriber stays until the
	// sweep, but no longer owns the name.
	q.subs.byName[sb.subscriber] = sb
	q.subs.byID.ReplaceOrInsert(sb)
	out.subs[sb.k] = sb
	out.subExp.ReplaceOrInsert(timed{sb.expires, sb.k})
	q.nsubs++
	return sb.record(), true, nil
}

// findSub returns the live subscription id of queue ref, or nil. subMu is
// held.
func (out *outbox) findSub(ref store.QueueRef, id store.ID, now int64) *sub {
	sb := out.subs[keyOf(id)]
	if sb == nil || sb.q.ref != ref || !sb.live(now) {
		return nil
	}
	return sb
}

// GetSubscription returns a live subscription, or ErrNotFound.
func (s *Store) GetSubscription(ctx context.Context, p store.GetSubscriptionParams) (store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return store.Subscription{}, err
	}
	if err := p.Check(); err != nil {
		return store.Subscription{}, err
	}
	out, now, err := s.outboxAt(p.Now)
	if err != nil {
		return store.Subscription{}, err
	}
	defer s.subMu.Unlock()
	sb := out.findSub(p.Queue, p.ID, now)
	if sb == nil {
		return store.Subscription{}, subNotFound(p.ID)
	}
	return sb.record(), nil
}

// ListSubscriptions lists a queue's live subscriptions in ID order after
// the marker.
func (s *Store) ListSubscriptions(ctx context.Context, p store.ListSubscriptionsParams) ([]store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "subscription list limit"); err != nil {
		return nil, err
	}
	q, err := s.lookup(p.Queue)
	if q == nil || err != nil {
		return nil, err
	}
	_, now, err := s.outboxAt(p.Now)
	if err != nil {
		return nil, err
	}
	defer s.subMu.Unlock()
	if q.subs == nil {
		return nil, nil
	}
	var res []store.Subscription
	mk := keyOf(p.Marker)
	q.subs.byID.AscendGreaterOrEqual(&sub{k: mk}, func(sb *sub) bool {
		if sb.k == mk && !p.Marker.IsZero() || !sb.live(now) {
			return true
		}
		res = append(res, sb.record())
		return len(res) < p.Limit
	})
	return res, nil
}

// UpdateSubscription changes what p sets; a subscriber another live
// subscription of the queue has gives ErrConflict. Every check runs before
// any change.
func (s *Store) UpdateSubscription(ctx context.Context, p store.UpdateSubscriptionParams) (store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return store.Subscription{}, err
	}
	opts, err := p.Check()
	if err != nil {
		return store.Subscription{}, err
	}
	out, now, err := s.outboxAt(p.Now)
	if err != nil {
		return store.Subscription{}, err
	}
	defer s.subMu.Unlock()
	sb := out.findSub(p.Queue, p.ID, now)
	if sb == nil {
		return store.Subscription{}, subNotFound(p.ID)
	}
	if p.TTL != nil {
		if err := store.CheckSubscriptionDeadline(now, *p.TTL); err != nil {
			return store.Subscription{}, err
		}
	}
	if p.Subscriber != nil && *p.Subscriber != sb.subscriber {
		if other := sb.qs.byName[*p.Subscriber]; other != nil && other != sb && other.live(now) {
			return store.Subscription{}, store.Errorf(store.ErrConflict, "queue %q already has a subscription %s for %q", p.Queue.Name, other.k.id(), *p.Subscriber)
		}
		if sb.qs.byName[sb.subscriber] == sb {
			delete(sb.qs.byName, sb.subscriber)
		}
		sb.subscriber = *p.Subscriber
		sb.qs.byName[sb.subscriber] = sb
	}
	if p.TTL != nil {
		out.subExp.Delete(timed{sb.expires, sb.k})
		sb.ttl, sb.expires = int64(*p.TTL), now+int64(*p.TTL)
		out.subExp.ReplaceOrInsert(timed{sb.expires, sb.k})
	}
	if opts != nil {
		sb.options = opts
	}
	if p.Confirmed != nil {
		sb.confirmed = *p.Confirmed
	}
	return sb.record(), nil
}

// DeleteSubscription removes a subscription with its deliveries. A
// missing one is not an error.
func (s *Store) DeleteSubscription(ctx context.Context, p store.DeleteSubscriptionParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	q, err := s.lookup(p.Queue)
	if q == nil || err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.out == nil {
		return errClosed()
	}
	if sb := s.out.subs[keyOf(p.ID)]; sb != nil && sb.q == q {
		s.out.dropSub(sb)
	}
	return nil
}

// dropSub removes a subscription and its deliveries. Its queue's mu and
// subMu are held.
func (out *outbox) dropSub(sb *sub) {
	for _, d := range sb.dels {
		out.dropDelivery(d)
	}
	sb.qs.byID.Delete(sb)
	if sb.qs.byName[sb.subscriber] == sb {
		delete(sb.qs.byName, sb.subscriber)
	}
	delete(out.subs, sb.k)
	out.subExp.Delete(timed{sb.expires, sb.k})
	sb.q.nsubs--
	sb.gone = true
}

// dropQueueSubs removes every subscription of q, a queue being deleted,
// with their deliveries (Q6). q.mu is held.
func (s *Store) dropQueueSubs(q *queue) {
	if q.nsubs == 0 {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.out == nil || q.subs == nil {
		return
	}
	var all []*sub
	q.subs.byID.Ascend(func(sb *sub) bool { all = append(all, sb); return true })
	for _, sb := range all {
		s.out.dropSub(sb)
	}
	q.subs = nil
}

// sweepSubs removes expired subscriptions with their deliveries, spending
// one of budget per item, and returns the budget left and whether expired
// subscriptions are left (B1). A subscription with more deliveries than
// the budget loses them over several calls and goes with the last.
func (s *Store) sweepSubs(now int64, budget int, res *store.SweepResult) (int, bool) {
	for {
		s.subMu.Lock()
		if s.out == nil {
			s.subMu.Unlock()
			return budget, false
		}
		it, ok := s.out.subExp.Min()
		if !ok || it.t > now {
			s.subMu.Unlock()
			return budget, false
		}
		if budget == 0 {
			s.subMu.Unlock()
			return 0, true
		}
		q := s.out.subs[it.k].q
		s.subMu.Unlock()

		// Lock order: the queue, then subMu; then look again.
		q.mu.Lock()
		s.subMu.Lock()
		if s.out != nil {
			if sb := s.out.subs[it.k]; sb != nil && !sb.live(now) {
				for _, d := range sb.dels {
					if budget == 0 {
						break
					}
					s.out.dropDelivery(d)
					budget--
				}
				if len(sb.dels) == 0 && budget > 0 {
					s.out.dropSub(sb)
					budget--
					res.Subscriptions++
				}
			}
		}
		s.subMu.Unlock()
		q.mu.Unlock()
	}
}
