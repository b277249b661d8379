package bolt

import (
	"bytes"
	"context"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// Subscriptions as data (S1). Writes are ops of the group committer, like
// every write (D1, D2); reads use read transactions and never write.

func subNotFound(id store.ID) error {
	return store.Errorf(store.ErrNotFound, "subscription %s not found", id)
}

// nameKey is qk‖0‖subscriber, the subnames key.
func nameKey(qk []byte, subscriber []byte) []byte { return append(queuePrefix(qk), subscriber...) }

// CreateSubscription creates a subscription, or returns the live one of
// the same subscriber to the queue, unchanged (S1). The queue is created
// if missing (Q2), in the same transaction.
func (s *Store) CreateSubscription(ctx context.Context, p store.CreateSubscriptionParams) (store.Subscription, bool, error) {
	opts, err := p.Check()
	if err != nil {
		return store.Subscription{}, false, err
	}
	if err := store.CheckSubscriptionDeadline(s.observe(p.Now), p.TTL); err != nil {
		return store.Subscription{}, false, err
	}
	qk := queueKey(p.Queue)
	var out store.Subscription
	var created bool
	err = s.update(ctx, func(w *wtx) error {
		now := s.observe(p.Now)
		if err := store.CheckSubscriptionDeadline(now, p.TTL); err != nil {
			return err
		}
		if _, _, err := w.create(p.Queue, nil, now, p.Quota.QueuesPerProject); err != nil {
			return err
		}
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		nk := nameKey(qk, []byte(p.Subscriber))
		if v := ob.subNames.Get(nk); len(v) == 16 {
			sid := idOf(v)
			r, ok, err := ob.sub(sid)
			if err != nil {
				return err
			}
			if ok && r.live(now) {
				out, created = r.record(sid), false
				return nil
			}
			// An expired subscription of the same subscriber stays until
			// the sweep, but no longer owns the name.
		}
		if limit := p.Quota.SubscriptionsPerQueue; limit > 0 {
			if n := countPrefix(ob.subQueue, queuePrefix(qk), limit); n >= limit {
				return store.SubscriptionCapErr(p.Queue, n, limit)
			}
		}
		sid := w.nextID(now)
		r := subRec{created: now, expires: now + int64(p.TTL), ttl: int64(p.TTL), confirmed: p.Confirmed,
			qk: qk, subscriber: []byte(p.Subscriber), options: opts}
		if err := ob.putSub(sid, &r); err != nil {
			return err
		}
		if err := ob.subNames.Put(nk, bytes.Clone(sid[:])); err != nil {
			return err
		}
		if err := ob.subExp.Put(timeKey(r.expires, sid[:]), empty); err != nil {
			return err
		}
		out, created = r.record(sid), true
		return nil
	})
	if err != nil {
		return store.Subscription{}, false, err
	}
	return out, created, nil
}

// putSub writes a subscription record and its subqueue entry.
func (ob *obuckets) putSub(sid store.ID, r *subRec) error {
	if err := ob.subs.Put(bytes.Clone(sid[:]), r.encode()); err != nil {
		return err
	}
	return ob.subQueue.Put(queueIDKey(r.qk, sid), subQueueValue(r))
}

// liveSub reads subscription id of queue key qk if it is live at now.
func (ob *obuckets) liveSub(qk []byte, id store.ID, now int64) (subRec, bool, error) {
	r, ok, err := ob.sub(id)
	if !ok || err != nil || !bytes.Equal(r.qk, qk) || !r.live(now) {
		return subRec{}, false, err
	}
	return r, true, nil
}

// GetSubscription returns a live subscription, or ErrNotFound.
func (s *Store) GetSubscription(ctx context.Context, p store.GetSubscriptionParams) (store.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return store.Subscription{}, err
	}
	if err := p.Check(); err != nil {
		return store.Subscription{}, err
	}
	now := s.observe(p.Now)
	var out store.Subscription
	err := s.view(func(tx *bbolt.Tx) error {
		ob, err := openOutbox(tx)
		if err != nil {
			return err
		}
		r, ok, err := ob.liveSub(queueKey(p.Queue), p.ID, now)
		if err != nil {
			return err
		}
		if !ok {
			return subNotFound(p.ID)
		}
		out = r.record(p.ID)
		return nil
	})
	return out, err
}

// ListSubscriptions lists a queue's live subscriptions in ID order after
// the marker, from the queue's subqueue range.
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
	now := s.observe(p.Now)
	qk := queueKey(p.Queue)
	var out []store.Subscription
	err := s.view(func(tx *bbolt.Tx) error {
		ob, err := openOutbox(tx)
		if err != nil {
			return err
		}
		prefix := queuePrefix(qk)
		c := ob.subQueue.Cursor()
		for k, v := c.Seek(queueIDKey(qk, p.Marker)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, v = c.Next() {
			sid := idOf(k[len(prefix):])
			if sid == p.Marker || len(v) != 9 || keyTime(v) <= now {
				continue
			}
			r, ok, err := ob.liveSub(qk, sid, now)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, r.record(sid))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateSubscription changes what p sets; a subscriber another live
// subscription of the queue has gives ErrConflict. Every check runs before
// any write.
func (s *Store) UpdateSubscription(ctx context.Context, p store.UpdateSubscriptionParams) (store.Subscription, error) {
	opts, err := p.Check()
	if err != nil {
		return store.Subscription{}, err
	}
	qk := queueKey(p.Queue)
	var out store.Subscription
	err = s.update(ctx, func(w *wtx) error {
		now := s.observe(p.Now)
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		r, ok, err := ob.liveSub(qk, p.ID, now)
		if err != nil {
			return err
		}
		if !ok {
			return subNotFound(p.ID)
		}
		if p.TTL != nil {
			if err := store.CheckSubscriptionDeadline(now, *p.TTL); err != nil {
				return err
			}
		}
		if p.Subscriber != nil && *p.Subscriber != string(r.subscriber) {
			nk := nameKey(qk, []byte(*p.Subscriber))
			if v := ob.subNames.Get(nk); len(v) == 16 && idOf(v) != p.ID {
				_, live, err := ob.liveSub(qk, idOf(v), now)
				if err != nil {
					return err
				}
				if live {
					return store.Errorf(store.ErrConflict, "queue %q already has a subscription %s for %q", p.Queue.Name, idOf(v), *p.Subscriber)
				}
			}
			old := nameKey(qk, r.subscriber)
			if v := ob.subNames.Get(old); len(v) == 16 && idOf(v) == p.ID {
				if err := ob.subNames.Delete(old); err != nil {
					return err
				}
			}
			if err := ob.subNames.Put(nk, bytes.Clone(p.ID[:])); err != nil {
				return err
			}
			r.subscriber = []byte(*p.Subscriber)
		}
		if p.TTL != nil {
			if err := ob.subExp.Delete(timeKey(r.expires, p.ID[:])); err != nil {
				return err
			}
			r.ttl, r.expires = int64(*p.TTL), now+int64(*p.TTL)
			if err := ob.subExp.Put(timeKey(r.expires, p.ID[:]), empty); err != nil {
				return err
			}
		}
		if opts != nil {
			r.options = opts
		}
		if p.Confirmed != nil {
			r.confirmed = *p.Confirmed
		}
		if err := ob.putSub(p.ID, &r); err != nil {
			return err
		}
		out = r.record(p.ID)
		return nil
	})
	if err != nil {
		return store.Subscription{}, err
	}
	return out, nil
}

// DeleteSubscription removes a subscription with its deliveries. A
// missing one is not an error.
func (s *Store) DeleteSubscription(ctx context.Context, p store.DeleteSubscriptionParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	qk := queueKey(p.Queue)
	return s.update(ctx, func(w *wtx) error {
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		r, ok, err := ob.sub(p.ID)
		if !ok || err != nil || !bytes.Equal(r.qk, qk) {
			return err
		}
		return ob.dropSub(p.ID, &r, -1)
	})
}

// dropSub removes up to budget deliveries of subscription sid (all when
// budget < 0) and, if none are left, the subscription.
func (ob *obuckets) dropSub(sid store.ID, r *subRec, budget int) error {
	_, _, err := ob.dropSubSome(sid, r, budget)
	return err
}

// dropSubSome is dropSub reporting how much budget it spent, counting the
// subscription itself as one item, and whether it removed the
// subscription.
func (ob *obuckets) dropSubSome(sid store.ID, r *subRec, budget int) (spent int, gone bool, err error) {
	for budget < 0 || spent < budget {
		n := chunk
		if budget >= 0 {
			n = min(n, budget-spent)
		}
		dids := prefixIDs(ob.dels, sid, n)
		if len(dids) == 0 {
			break
		}
		for _, did := range dids {
			d, ok, err := ob.del(sid, did)
			if err != nil {
				return spent, false, err
			}
			if ok {
				if err := ob.dropDelivery(did, &d); err != nil {
					return spent, false, err
				}
			}
			spent++
		}
	}
	if budget >= 0 && spent >= budget {
		return spent, false, nil
	}
	if k, _ := ob.dels.Cursor().Seek(sid[:]); k != nil && bytes.HasPrefix(k, sid[:]) {
		return spent, false, nil // only with a budget: more deliveries left
	}
	if err := ob.subs.Delete(sid[:]); err != nil {
		return spent, false, err
	}
	if err := ob.subQueue.Delete(queueIDKey(r.qk, sid)); err != nil {
		return spent, false, err
	}
	if err := ob.subExp.Delete(timeKey(r.expires, sid[:])); err != nil {
		return spent, false, err
	}
	nk := nameKey(r.qk, r.subscriber)
	if v := ob.subNames.Get(nk); len(v) == 16 && idOf(v) == sid {
		if err := ob.subNames.Delete(nk); err != nil {
			return spent, false, err
		}
	}
	return spent + 1, true, nil
}

// countPrefix counts the keys of b that start with prefix, up to max. It
// counts a queue's subscriptions for its limit (L2): every stored one
// counts, so a queue has at most the limit and the count costs no more
// than the limit, less than a post's fan-out over the same keys.
func countPrefix(b *bbolt.Bucket, prefix []byte, max int) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < max; k, _ = c.Next() {
		n++
	}
	return n
}

// prefixIDs returns up to n IDs that follow prefix in the keys of b.
func prefixIDs(b *bbolt.Bucket, prefix store.ID, n int) []store.ID {
	var out []store.ID
	c := b.Cursor()
	for k, _ := c.Seek(prefix[:]); k != nil && bytes.HasPrefix(k, prefix[:]) && len(out) < n; k, _ = c.Next() {
		if len(k) == 32 {
			out = append(out, idOf(k[16:]))
		}
	}
	return out
}

// dropQueueSubs removes every subscription of queue key qk with its
// deliveries (Q6).
func (w *wtx) dropQueueSubs(qk []byte) error {
	ob, err := w.outbox()
	if err != nil {
		return err
	}
	prefix := queuePrefix(qk)
	var sids []store.ID
	c := ob.subQueue.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		sids = append(sids, idOf(k[len(prefix):]))
	}
	for _, sid := range sids {
		r, ok, err := ob.sub(sid)
		if err != nil {
			return err
		}
		if !ok { // a stale index entry
			if err := ob.subQueue.Delete(queueIDKey(qk, sid)); err != nil {
				return err
			}
			continue
		}
		if err := ob.dropSub(sid, &r, -1); err != nil {
			return err
		}
	}
	return nil
}

// sweepSubs removes expired subscriptions with their deliveries, one of
// budget per item, and returns the budget left and whether expired
// subscriptions are left (B1). A subscription with more deliveries than
// the budget loses them over several sweeps and goes with the last.
func (w *wtx) sweepSubs(now int64, budget int, res *store.SweepResult) (int, bool, error) {
	ob, err := w.outbox()
	if err != nil {
		return budget, false, err
	}
	for {
		ks := dueKeys(ob.subExp, now, 1)
		if len(ks) == 0 {
			return budget, false, nil
		}
		if budget == 0 {
			return 0, true, nil
		}
		sid := idOf(ks[0][8:])
		r, ok, err := ob.sub(sid)
		if err != nil {
			return budget, false, err
		}
		if !ok || keyTime(ks[0]) != max(r.expires, 0) {
			if err := ob.subExp.Delete(ks[0]); err != nil { // a stale index entry
				return budget, false, err
			}
			continue
		}
		spent, gone, err := ob.dropSubSome(sid, &r, budget)
		if err != nil {
			return budget, false, err
		}
		budget -= spent
		if gone {
			res.Subscriptions++
		}
	}
}
