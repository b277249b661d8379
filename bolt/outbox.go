package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

var _ store.Subscriber = (*Store)(nil)

// The outbox (S2): deliveries are written by the post's own op, in the
// post's write transaction, so a commit holds a message and its
// deliveries or neither (D3). Layout in outboxcodec.go.

// outbox returns the outbox buckets, opened once per transaction.
func (w *wtx) outbox() (*obuckets, error) {
	if w.ob == nil {
		ob, err := openOutbox(w.tx)
		if err != nil {
			return nil, err
		}
		w.ob = ob
	}
	return w.ob, nil
}

// fanOut records, for each message of the post that was stored (stored
// holds their indexes), one delivery per live subscription of q (only
// confirmed ones when the post says so). With no subscription on the queue
// it costs one seek.
func (w *wtx) fanOut(q *wq, p *store.PostParams, now int64, ids []store.ID, stored []int, ttls []time.Duration, sums []uint32) error {
	ob, err := w.outbox()
	if err != nil {
		return err
	}
	qk := queueKey(q.ref)
	prefix := queuePrefix(qk)
	var buf [8]store.ID
	live := buf[:0]
	c := ob.subQueue.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+16 || len(v) != 9 {
			return store.Errorf(store.ErrCorrupt, "queue %q: bad subscription index entry", qk)
		}
		expires, confirmed := int64(binary.BigEndian.Uint64(v)), v[8] == 1
		if expires > now && (confirmed || !p.ConfirmedOnly) {
			live = append(live, idOf(k[len(prefix):]))
		}
	}
	if len(live) == 0 {
		return nil
	}
	for _, i := range stored {
		for _, sid := range live {
			did := w.nextID(now)
			r := delRec{msg: ids[i], created: now, ttl: int64(ttls[i]), next: now, sum: sums[i],
				qk: qk, body: p.Messages[i].Body}
			if err := ob.dels.Put(pairKey(sid, did), r.encode()); err != nil {
				return err
			}
			if err := ob.putDue(qk, now, did, sid); err != nil {
				return err
			}
		}
	}
	return nil
}

// del reads delivery id of subscription sub, or reports false.
func (ob *obuckets) del(sub, id store.ID) (delRec, bool, error) {
	v := ob.dels.Get(pairKey(sub, id))
	if v == nil {
		return delRec{}, false, nil
	}
	r, err := decodeDel(sub, id, v)
	return r, err == nil, err
}

// find reads delivery id of queue key qk, or reports false. With its
// subscription known it is one seek; a failed delivery is one seek in the
// failed index; any other is a seek in dels
// for each subscription of the queue, live or not yet swept (there is no
// index from a delivery ID to its subscription: a post would pay for it).
func (ob *obuckets) find(qk []byte, sub, id store.ID) (delRec, bool, error) {
	if !sub.IsZero() { // the caller knows it: one seek
		return ob.del(sub, id)
	}
	if v := ob.failed.Get(queueIDKey(qk, id)); len(v) == 16 {
		r, ok, err := ob.del(idOf(v), id)
		if ok || err != nil {
			return r, ok, err
		}
	}
	prefix := queuePrefix(qk)
	c := ob.subQueue.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+16 {
			continue
		}
		r, ok, err := ob.del(idOf(k[len(prefix):]), id)
		if ok || err != nil {
			return r, ok, err
		}
	}
	return delRec{}, false, nil
}

// sub reads subscription id, or reports false.
func (ob *obuckets) sub(id store.ID) (subRec, bool, error) {
	v := ob.subs.Get(id[:])
	if v == nil {
		return subRec{}, false, nil
	}
	r, err := decodeSub(id, v)
	return r, err == nil, err
}

// subCache reads subscriptions once per call.
type subCache struct {
	ob *obuckets
	m  map[store.ID]*subRec // nil: missing
}

func (c *subCache) get(id store.ID) (*subRec, error) {
	if r, ok := c.m[id]; ok {
		return r, nil
	}
	if c.m == nil {
		c.m = make(map[store.ID]*subRec)
	}
	r, ok, err := c.ob.sub(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		c.m[id] = nil
		return nil, nil
	}
	c.m[id] = &r
	return &r, nil
}

// unindex takes delivery id out of the due or failed indexes, as r says.
func (ob *obuckets) unindex(id store.ID, r *delRec) error {
	if r.failed {
		if err := ob.failed.Delete(queueIDKey(r.qk, id)); err != nil {
			return err
		}
		return ob.subFailed.Delete(pairKey(r.sub, id))
	}
	return ob.delDue(r.qk, r.next, id)
}

// index puts delivery id in the due or failed indexes, as r says.
func (ob *obuckets) index(id store.ID, r *delRec) error {
	if r.failed {
		if err := ob.failed.Put(queueIDKey(r.qk, id), bytes.Clone(r.sub[:])); err != nil {
			return err
		}
		return ob.subFailed.Put(pairKey(r.sub, id), empty)
	}
	return ob.putDue(r.qk, r.next, id, r.sub)
}

// dropDelivery removes delivery id from every bucket.
func (ob *obuckets) dropDelivery(id store.ID, r *delRec) error {
	if err := ob.unindex(id, r); err != nil {
		return err
	}
	return ob.dels.Delete(pairKey(r.sub, id))
}

// HasSubscriptions reports whether the store holds a subscription: one
// seek in a read transaction. An expired one not yet swept counts; a store
// that never had one says false.
func (s *Store) HasSubscriptions(ctx context.Context, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.observe(now)
	var has bool
	err := s.view(func(tx *bbolt.Tx) error {
		ob, err := openOutbox(tx)
		if err != nil {
			return err
		}
		k, _ := ob.subs.Cursor().First()
		has = k != nil
		return nil
	})
	return has, err
}

// maxSkipped bounds the deliveries of dead subscriptions one
// LeaseDeliveries drops on its way (B1).
const maxSkipped = catchUpBatch

// LeaseDeliveries hands out up to Limit due deliveries, oldest due first,
// across every queue, and makes them due again at Now+Lease. Finding them
// is a seek in the due index; with nothing due it answers from a read
// transaction and writes nothing. Deliveries of an expired subscription
// are dropped as they are met, never handed out (B4).
func (s *Store) LeaseDeliveries(ctx context.Context, p store.LeaseDeliveriesParams) ([]store.Delivery, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, err
	}
	if err := p.Check(); err != nil {
		return nil, time.Time{}, err
	}
	now := s.observe(p.Now)
	if store.Overflows(now, p.Lease) {
		return nil, time.Time{}, store.Errorf(store.ErrInvalidTTL, "delivery lease %v: deadline overflows", p.Lease)
	}
	first := int64(never)
	err := s.view(func(tx *bbolt.Tx) error {
		ob, err := openOutbox(tx)
		if err == nil {
			first = firstTime(ob.due)
		}
		return err
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	if first > now {
		return nil, nextTime(first), nil
	}
	until := now + int64(p.Lease)
	var out []store.Delivery
	next := int64(never)
	err = s.update(ctx, func(w *wtx) error {
		out = nil // the committer may run this more than once
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		subs := subCache{ob: ob}
		skipped := 0
		// take leases the due entry k (next‖did) → v, or drops or
		// fails its delivery, and reports whether it is handed out.
		take := func(k, v []byte) (bool, error) {
			did := idOf(k[8:])
			if len(v) != 16 {
				return false, store.Errorf(store.ErrCorrupt, "delivery %s: bad due entry", did)
			}
			r, ok, err := ob.del(idOf(v), did)
			if err != nil {
				return false, err
			}
			if !ok { // a stale index entry
				skipped++
				return false, ob.due.Delete(k)
			}
			sr, err := subs.get(r.sub)
			if err != nil {
				return false, err
			}
			if sr == nil || !sr.live(now) {
				skipped++
				return false, ob.dropDelivery(did, &r)
			}
			d, err := r.record(did, sr.subscriber)
			if err := ob.delDue(r.qk, r.next, did); err != nil {
				return false, err
			}
			if err != nil { // a bad body is never sent (M11), nor does it block the rest
				skipped++
				r.attempts++
				r.failed, r.next, r.lastErr = true, now, []byte(err.Error())
				if err := ob.dels.Put(pairKey(r.sub, did), r.encode()); err != nil {
					return false, err
				}
				return false, ob.index(did, &r)
			}
			r.next = until
			if err := ob.dels.Put(pairKey(r.sub, did), r.encode()); err != nil {
				return false, err
			}
			if err := ob.putDue(r.qk, until, did, r.sub); err != nil {
				return false, err
			}
			d.NextAttempt = toTime(until)
			out = append(out, d)
			return true, nil
		}
		if p.PerProject > 0 {
			for _, proj := range dueProjects(ob.dueProj, p.From) {
				if len(out) >= p.Limit || skipped >= maxSkipped {
					break
				}
				for n := 0; n < p.PerProject && len(out) < p.Limit && skipped < maxSkipped; {
					ks, vs := projectDue(ob.dueProj, proj, now, min(p.PerProject-n, p.Limit-len(out), chunk))
					if len(ks) == 0 {
						break
					}
					for i, k := range ks {
						handed, err := take(k, vs[i])
						if err != nil {
							return err
						}
						if !handed && len(vs[i]) == 16 {
							// A stale entry's dueproj twin goes too.
							if err := ob.dueProj.Delete(append(append(bytes.Clone(proj), 0), k...)); err != nil {
								return err
							}
						}
						if handed {
							n++
						}
					}
				}
			}
		}
		for p.PerProject == 0 && len(out) < p.Limit && skipped < maxSkipped {
			ks, vs := dueEntries(ob.due, now, min(p.Limit-len(out), chunk))
			if len(ks) == 0 {
				break
			}
			for i, k := range ks {
				if _, err := take(k, vs[i]); err != nil {
					return err
				}
			}
		}
		next = firstTime(ob.due)
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return out, nextTime(next), nil
}

// nextTime is t as a time, or the zero time for never.
func nextTime(t int64) time.Time {
	if t == never {
		return time.Time{}
	}
	return toTime(t)
}

// SettleDelivery records how an attempt ended: Delivered removes the
// delivery, Retry makes it due at RetryAt, Failed moves it to the queue's
// failed deliveries. A missing delivery is not an error.
func (s *Store) SettleDelivery(ctx context.Context, p store.SettleDeliveryParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	qk := queueKey(p.Queue)
	return s.update(ctx, func(w *wtx) error {
		now := s.observe(p.Now)
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		r, ok, err := ob.find(qk, p.Subscription, p.ID)
		if !ok || err != nil || !bytes.Equal(r.qk, qk) {
			return err
		}
		if p.Outcome == store.Delivered {
			return ob.dropDelivery(p.ID, &r)
		}
		if err := ob.unindex(p.ID, &r); err != nil {
			return err
		}
		r.attempts++
		r.lastErr = []byte(p.Error)
		if p.Outcome == store.Retry {
			r.failed, r.next = false, store.Nanos(p.RetryAt)
		} else {
			r.failed, r.next = true, now
		}
		if err := ob.dels.Put(pairKey(r.sub, p.ID), r.encode()); err != nil {
			return err
		}
		return ob.index(p.ID, &r)
	})
}

// ListFailedDeliveries lists a queue's failed deliveries (or one
// subscription's) in ID order after the marker, from a read transaction.
// Those of expired subscriptions are left out, as of the latest Now the
// store has seen (the params carry none).
func (s *Store) ListFailedDeliveries(ctx context.Context, p store.ListFailedDeliveriesParams) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	now := s.hw.Load()
	qk := queueKey(p.Queue)
	var out []store.Delivery
	err := s.view(func(tx *bbolt.Tx) error {
		ob, err := openOutbox(tx)
		if err != nil {
			return err
		}
		subs := subCache{ob: ob}
		index, prefix := ob.failed, queuePrefix(qk)
		if !p.Subscription.IsZero() {
			sr, err := subs.get(p.Subscription)
			if sr == nil || err != nil || !bytes.Equal(sr.qk, qk) {
				return err
			}
			index, prefix = ob.subFailed, bytes.Clone(p.Subscription[:])
		}
		c := index.Cursor()
		k, v := c.Seek(append(bytes.Clone(prefix), p.Marker[:]...))
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, v = c.Next() {
			did := idOf(k[len(prefix):])
			if did == p.Marker {
				continue
			}
			sid := p.Subscription
			if sid.IsZero() {
				if len(v) != 16 {
					return store.Errorf(store.ErrCorrupt, "delivery %s: bad failed entry", did)
				}
				sid = idOf(v)
			}
			r, ok, err := ob.del(sid, did)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			sr, err := subs.get(r.sub)
			if err != nil {
				return err
			}
			if sr == nil || !sr.live(now) {
				continue
			}
			d, err := r.record(did, sr.subscriber)
			if err != nil {
				continue // a bad body is never returned (M11): skip it
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RetryFailedDeliveries makes the given failed deliveries of the queue
// pending again, due at Now with no attempts, and returns how many.
func (s *Store) RetryFailedDeliveries(ctx context.Context, p store.RetryFailedDeliveriesParams) (int, error) {
	if err := p.Check(); err != nil {
		return 0, err
	}
	qk := queueKey(p.Queue)
	var n int
	err := s.update(ctx, func(w *wtx) error {
		n = 0
		now := s.observe(p.Now)
		ob, err := w.outbox()
		if err != nil {
			return err
		}
		subs := subCache{ob: ob}
		for _, id := range p.IDs {
			v := ob.failed.Get(queueIDKey(qk, id))
			if len(v) != 16 {
				continue
			}
			r, ok, err := ob.del(idOf(v), id)
			if err != nil {
				return err
			}
			if !ok || !r.failed || !bytes.Equal(r.qk, qk) {
				continue
			}
			sr, err := subs.get(r.sub)
			if err != nil {
				return err
			}
			if sr == nil || !sr.live(now) {
				continue
			}
			if err := ob.unindex(id, &r); err != nil {
				return err
			}
			r.failed, r.attempts, r.next = false, 0, now
			if err := ob.dels.Put(pairKey(r.sub, id), r.encode()); err != nil {
				return err
			}
			if err := ob.index(id, &r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// dueEntries returns copies of up to n first entries of b whose time is
// at or before now.
func dueEntries(b *bbolt.Bucket, now int64, n int) (ks, vs [][]byte) {
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(ks) < n && keyTime(k) <= now; k, v = c.Next() {
		ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
	}
	return ks, vs
}
