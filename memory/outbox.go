package memory

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/btree"
	"github.com/heraldmq/herald/store"
)

var _ store.Subscriber = (*Store)(nil)

// The outbox (S2). Subscriptions and their deliveries live in one
// store-wide structure guarded by Store.subMu, because LeaseDeliveries
// works across every queue. Lock order: a queue's mu, then subMu, then
// idMu. A post records its deliveries inside its queue's critical section
// (q.mu held, then subMu), so a post and its deliveries are one step; a
// queue with no subscription (q.nsubs == 0, read under q.mu) never takes
// subMu, so posting costs nothing more until something subscribes.

// outbox is every subscription and delivery of the store.
type outbox struct {
	subs   map[key]*sub
	subExp *btree.BTreeG[timed] // every subscription by expires (B1)
	dels   map[key]*delivery
	due    *btree.BTreeG[timed] // pending deliveries by next attempt
	// dueBy holds due's entries again per project, and dueProjects the
	// projects that have some, for the fair lease (L3).
	dueBy       map[string]*btree.BTreeG[timed]
	dueProjects *btree.BTreeG[string]
}

// timed is an index entry: a time, then an ID.
type timed struct {
	t int64
	k key
}

func lessTimed(a, b timed) bool { return a.t < b.t || a.t == b.t && a.k.less(b.k) }

func newOutbox() *outbox {
	return &outbox{
		subs:   make(map[key]*sub),
		subExp: btree.NewG(degree, lessTimed),
		dels:   make(map[key]*delivery),
		due:    btree.NewG(degree, lessTimed),

		dueBy:       make(map[string]*btree.BTreeG[timed]),
		dueProjects: btree.NewG(degree, func(a, b string) bool { return a < b }),
	}
}

// queueSubs are a queue's subscriptions and failed deliveries.
type queueSubs struct {
	byID *btree.BTreeG[*sub]
	// byName maps a subscriber to the latest subscription made for it,
	// which may have expired (and then no longer counts, S1).
	byName map[string]*sub
	failed *btree.BTreeG[*delivery]
}

func lessSub(a, b *sub) bool           { return a.k.less(b.k) }
func lessDelivery(a, b *delivery) bool { return a.k.less(b.k) }

func newQueueSubs() *queueSubs {
	return &queueSubs{
		byID:   btree.NewG(degree, lessSub),
		byName: make(map[string]*sub),
		failed: btree.NewG(degree, lessDelivery),
	}
}

// sub is a subscription. Its fields are guarded by subMu; q is fixed.
type sub struct {
	k          key
	q          *queue
	qs         *queueSubs
	subscriber string
	ttl        int64
	options    json.RawMessage
	confirmed  bool
	created    int64
	expires    int64
	dels       map[key]*delivery // every delivery, pending and failed
	failed     *btree.BTreeG[*delivery]
	gone       bool // removed: deleted, swept or its queue deleted
}

func (sb *sub) live(now int64) bool { return !sb.gone && sb.expires > now }

func (sb *sub) record() store.Subscription {
	return store.Subscription{
		ID:         sb.k.id(),
		Queue:      sb.q.ref,
		Subscriber: sb.subscriber,
		TTL:        time.Duration(sb.ttl),
		Options:    append(json.RawMessage(nil), sb.options...),
		Confirmed:  sb.confirmed,
		Created:    toTime(sb.created),
		Expires:    toTime(sb.expires),
	}
}

// delivery is one message to send to one subscription. body is the
// message's stored body, shared with it and its other deliveries, and
// never changed.
type delivery struct {
	k        key
	s        *sub
	msg      key
	body     []byte
	sum      uint32
	ttl      int64
	attempts int
	next     int64
	failed   bool
	lastErr  string
	created  int64
}

func (d *delivery) record() (store.Delivery, error) {
	if store.Checksum(d.body) != d.sum {
		return store.Delivery{}, store.Errorf(store.ErrCorrupt, "delivery %s: body checksum mismatch", d.k.id())
	}
	r := store.Delivery{
		ID:           d.k.id(),
		Subscription: d.s.k.id(),
		Subscriber:   d.s.subscriber,
		Queue:        d.s.q.ref,
		Message:      d.msg.id(),
		TTL:          time.Duration(d.ttl),
		Attempts:     d.attempts,
		NextAttempt:  toTime(d.next),
		Failed:       d.failed,
		LastError:    d.lastErr,
		Created:      toTime(d.created),
	}
	if len(d.body) > 0 {
		r.Body = append([]byte(nil), d.body...)
	}
	return r, nil
}

// fanOut records one delivery per live subscription of q (confirmed ones
// only when confirmedOnly) for each message of ms that the post stored
// (first[i] == i, or first nil), at now (S2). q.mu is held and q.nsubs >
// 0.
func (s *Store) fanOut(q *queue, now int64, ms []*message, first []int, confirmedOnly bool) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	out := s.out
	if out == nil || q.subs == nil {
		return
	}
	var buf [8]*sub
	live := buf[:0]
	q.subs.byID.Ascend(func(sb *sub) bool {
		if sb.live(now) && (sb.confirmed || !confirmedOnly) {
			live = append(live, sb)
		}
		return true
	})
	if len(live) == 0 {
		return
	}
	t := time.Unix(0, now)
	for i, m := range ms {
		if first != nil && first[i] != i {
			continue
		}
		for _, sb := range live {
			s.idMu.Lock()
			id := s.ids.Next(t)
			s.idMu.Unlock()
			d := &delivery{k: keyOf(id), s: sb, msg: m.k, body: m.body, sum: m.sum,
				ttl: m.expires - m.created, next: now, created: now}
			out.dels[d.k] = d
			sb.dels[d.k] = d
			out.addDue(d)
		}
	}
}

// addDue indexes pending delivery d as due at d.next.
func (out *outbox) addDue(d *delivery) {
	t := timed{d.next, d.k}
	out.due.ReplaceOrInsert(t)
	p := d.s.q.ref.Project
	b := out.dueBy[p]
	if b == nil {
		b = btree.NewG(degree, lessTimed)
		out.dueBy[p] = b
		out.dueProjects.ReplaceOrInsert(p)
	}
	b.ReplaceOrInsert(t)
}

// delDue takes pending delivery d out of the due indexes.
func (out *outbox) delDue(d *delivery) {
	t := timed{d.next, d.k}
	out.due.Delete(t)
	p := d.s.q.ref.Project
	if b := out.dueBy[p]; b != nil {
		if b.Delete(t); b.Len() == 0 {
			delete(out.dueBy, p)
			out.dueProjects.Delete(p)
		}
	}
}

// dropDelivery removes d from every index. subMu is held.
func (out *outbox) dropDelivery(d *delivery) {
	delete(out.dels, d.k)
	delete(d.s.dels, d.k)
	if d.failed {
		d.s.qs.failed.Delete(d)
		d.s.failed.Delete(d)
		return
	}
	out.delDue(d)
}

// outboxAt returns the outbox with subMu held and the store's time, or
// ErrClosed (subMu then not held).
func (s *Store) outboxAt(t time.Time) (*outbox, int64, error) {
	now := s.observe(t)
	s.subMu.Lock()
	if s.out == nil {
		s.subMu.Unlock()
		return nil, now, errClosed()
	}
	return s.out, now, nil
}

// HasSubscriptions reports whether the store holds a subscription. An
// expired one not yet swept counts: the answer is a hint to skip delivery
// work, and a store that never had a subscription always says false.
func (s *Store) HasSubscriptions(ctx context.Context, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	out, _, err := s.outboxAt(now)
	if err != nil {
		return false, err
	}
	defer s.subMu.Unlock()
	return len(out.subs) > 0, nil
}

// maxSkipped bounds the deliveries of dead subscriptions one
// LeaseDeliveries drops on its way (B1); the rest wait for the next call
// or the sweep.
const maxSkipped = catchUpBatch

// LeaseDeliveries hands out up to Limit due deliveries, oldest due first,
// and makes them due again at Now+Lease. Deliveries of an expired
// subscription are dropped as they are met (the sweep would drop them;
// they are never handed out, B4).
func (s *Store) LeaseDeliveries(ctx context.Context, p store.LeaseDeliveriesParams) ([]store.Delivery, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, err
	}
	if err := p.Check(); err != nil {
		return nil, time.Time{}, err
	}
	out, now, err := s.outboxAt(p.Now)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer s.subMu.Unlock()
	if store.Overflows(now, p.Lease) {
		return nil, time.Time{}, store.Errorf(store.ErrInvalidTTL, "delivery lease %v: deadline overflows", p.Lease)
	}
	until := now + int64(p.Lease)
	var res []store.Delivery
	skipped := 0
	// take leases the due delivery it names, or drops or fails it, and
	// reports whether it is handed out.
	take := func(it timed) bool {
		d := out.dels[it.k]
		if !d.s.live(now) {
			out.dropDelivery(d)
			skipped++
			return false
		}
		r, err := d.record()
		out.delDue(d)
		if err != nil { // a bad body is never sent (M11), nor does it block the rest
			d.attempts++
			d.lastErr = err.Error()
			out.fail(d, now)
			skipped++
			return false
		}
		d.next = until
		out.addDue(d)
		r.NextAttempt = toTime(until)
		res = append(res, r)
		return true
	}
	if p.PerProject > 0 {
		for _, proj := range out.projectsFrom(p.From) {
			if len(res) >= p.Limit || skipped >= maxSkipped {
				break
			}
			for n := 0; n < p.PerProject && len(res) < p.Limit && skipped < maxSkipped; {
				b := out.dueBy[proj]
				if b == nil {
					break
				}
				it, ok := b.Min()
				if !ok || it.t > now {
					break
				}
				if take(it) {
					n++
				}
			}
		}
	}
	for p.PerProject == 0 && len(res) < p.Limit && skipped < maxSkipped {
		it, ok := out.due.Min()
		if !ok || it.t > now {
			break
		}
		take(it)
	}
	var next time.Time
	if it, ok := out.due.Min(); ok {
		next = toTime(it.t)
	}
	return res, next, nil
}

// projectsFrom returns the projects with pending deliveries in turn order:
// name order from the first at or after from, then those before it.
func (out *outbox) projectsFrom(from string) []string {
	ps := make([]string, 0, out.dueProjects.Len())
	out.dueProjects.AscendGreaterOrEqual(from, func(p string) bool { ps = append(ps, p); return true })
	out.dueProjects.AscendLessThan(from, func(p string) bool { ps = append(ps, p); return true })
	return ps
}

// SettleDelivery records how an attempt ended: Delivered removes the
// delivery, Retry makes it due at RetryAt, Failed moves it to the queue's
// failed deliveries. A missing delivery is not an error.
func (s *Store) SettleDelivery(ctx context.Context, p store.SettleDeliveryParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	out, now, err := s.outboxAt(p.Now)
	if err != nil {
		return err
	}
	defer s.subMu.Unlock()
	d := out.dels[keyOf(p.ID)]
	if d == nil || d.s.q.ref != p.Queue {
		return nil
	}
	if p.Outcome == store.Delivered {
		out.dropDelivery(d)
		return nil
	}
	d.attempts++
	d.lastErr = p.Error
	if d.failed {
		d.s.qs.failed.Delete(d)
		d.s.failed.Delete(d)
	} else {
		out.delDue(d)
	}
	if p.Outcome == store.Retry {
		d.failed = false
		d.next = store.Nanos(p.RetryAt)
		out.addDue(d)
		return nil
	}
	out.fail(d, now)
	return nil
}

// fail makes a pending delivery failed at now; it is out of the due index
// already.
func (out *outbox) fail(d *delivery, now int64) {
	d.failed = true
	d.next = now
	d.s.qs.failed.ReplaceOrInsert(d)
	d.s.failed.ReplaceOrInsert(d)
}

// ListFailedDeliveries lists a queue's failed deliveries (or one
// subscription's) in ID order after the marker. Those of expired
// subscriptions are left out, as of the latest Now the store has seen
// (the params carry none).
func (s *Store) ListFailedDeliveries(ctx context.Context, p store.ListFailedDeliveriesParams) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	q, err := s.lookup(p.Queue)
	if q == nil || err != nil {
		return nil, err
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	out, now := s.out, s.seen.Load()
	if out == nil {
		return nil, errClosed()
	}
	if q.subs == nil {
		return nil, nil
	}
	tree := q.subs.failed
	if !p.Subscription.IsZero() {
		sb := out.subs[keyOf(p.Subscription)]
		if sb == nil || sb.q != q || !sb.live(now) {
			return nil, nil
		}
		tree = sb.failed
	}
	var res []store.Delivery
	mk := keyOf(p.Marker)
	tree.AscendGreaterOrEqual(&delivery{k: mk}, func(d *delivery) bool {
		if d.k == mk && !p.Marker.IsZero() || !d.s.live(now) {
			return true
		}
		r, err := d.record()
		if err != nil {
			return true // a bad body is never returned (M11): skip it
		}
		res = append(res, r)
		return len(res) < p.Limit
	})
	return res, nil
}

// RetryFailedDeliveries makes the given failed deliveries of the queue
// pending again, due at Now with no attempts, and returns how many.
func (s *Store) RetryFailedDeliveries(ctx context.Context, p store.RetryFailedDeliveriesParams) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := p.Check(); err != nil {
		return 0, err
	}
	out, now, err := s.outboxAt(p.Now)
	if err != nil {
		return 0, err
	}
	defer s.subMu.Unlock()
	n := 0
	for _, id := range p.IDs {
		d := out.dels[keyOf(id)]
		if d == nil || !d.failed || d.s.q.ref != p.Queue || !d.s.live(now) {
			continue
		}
		d.s.qs.failed.Delete(d)
		d.s.failed.Delete(d)
		d.failed, d.attempts, d.next = false, 0, now
		out.addDue(d)
		n++
	}
	return n, nil
}
