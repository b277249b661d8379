package bolt

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// empty is the value of index entries: the key says everything.
var empty = []byte{}

// chunk bounds how many due keys one pass collects before applying them;
// keys are collected first because a bbolt cursor must not run over a
// bucket that is being changed.
const chunk = 256

// dueKeys returns copies of up to n first keys of b whose time is at or
// before now.
func dueKeys(b *bbolt.Bucket, now int64, n int) [][]byte {
	var out [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(out) < n && keyTime(k) <= now; k, _ = c.Next() {
		out = append(out, bytes.Clone(k))
	}
	return out
}

// runDue applies up to budget due items at now (M4, C4, M5, M10), in
// memory's order: claims end, delays end, messages expire, dedup entries
// expire. It counts removals in res when it is not nil, and returns the
// budget left and whether due items are left. There is no unbounded form:
// every caller passes the bound of its transaction (B1).
func (q *wq) runDue(now int64, budget int, res *store.SweepResult) (int, bool, error) {
	if budget <= 0 {
		return 0, q.pending(now), nil
	}
	take := func() int { return min(budget, chunk) }
	spend := func(n int) { budget -= n }
	// Each stage loops until its index has nothing due; when the budget
	// runs out first, report more.
	for {
		ks := dueKeys(q.claimExp, now, take())
		if len(ks) == 0 {
			break
		}
		for _, k := range ks {
			cid := idOf(k[8:])
			c, err := q.claim(cid)
			if err != nil {
				return budget, false, err
			}
			if c == nil { // a stale index entry: drop it
				if err := q.claimExp.Delete(k); err != nil {
					return budget, false, err
				}
				continue
			}
			if err := q.endClaim(cid, c, now, nil); err != nil {
				return budget, false, err
			}
			if res != nil {
				res.Claims++
			}
		}
		spend(len(ks))
		if budget == 0 {
			return 0, q.pending(now), nil
		}
	}
	for {
		ks := dueKeys(q.delayed, now, take())
		if len(ks) == 0 {
			break
		}
		for _, k := range ks {
			if err := q.delayed.Delete(k); err != nil {
				return budget, false, err
			}
			q.cnt.delayed--
			if err := q.ready.Put(k[8:], empty); err != nil {
				return budget, false, err
			}
		}
		q.dirty = true
		spend(len(ks))
		if budget == 0 {
			return 0, q.pending(now), nil
		}
	}
	for {
		ks := dueKeys(q.expiry, now, take())
		if len(ks) == 0 {
			break
		}
		for _, k := range ks {
			id := idOf(k[8:])
			r, ok, err := q.rec(id)
			if err != nil {
				return budget, false, err
			}
			if !ok || keyTime(k) != max(r.expires, 0) {
				if err := q.expiry.Delete(k); err != nil { // stale entry
					return budget, false, err
				}
				continue
			}
			if err := q.remove(id, &r, now); err != nil {
				return budget, false, err
			}
			if res != nil {
				res.Messages++
			}
		}
		spend(len(ks))
		if budget == 0 {
			return 0, q.pending(now), nil
		}
	}
	for {
		ks := dueKeys(q.dedupExp, now, take())
		if len(ks) == 0 {
			break
		}
		for _, k := range ks {
			if err := q.dedupExp.Delete(k); err != nil {
				return budget, false, err
			}
			key := k[8:]
			if v := q.dedup.Get(key); len(v) == 24 && keyTime(v[16:]) == keyTime(k) {
				if err := q.dedup.Delete(key); err != nil {
					return budget, false, err
				}
			}
			if res != nil {
				res.Dedup++
			}
		}
		spend(len(ks))
		if budget == 0 {
			return 0, q.pending(now), nil
		}
	}
	q.resetDue()
	return budget, false, nil
}

// dropDedup removes the dedup entry of key, which expires at until, with
// its expiry index entry.
func (q *wq) dropDedup(key string, until int64) error {
	if err := q.dedupExp.Delete(timeKey(until, []byte(key))); err != nil {
		return err
	}
	return q.dedup.Delete([]byte(key))
}

// pending reports whether anything is due at now.
func (q *wq) pending(now int64) bool {
	q.resetDue()
	return now >= q.due
}

// rec reads the record of message id.
func (q *wq) rec(id store.ID) (rec, bool, error) {
	v := q.msgs.Get(id[:])
	if v == nil {
		return rec{}, false, nil
	}
	r, err := decodeRec(id, v)
	return r, err == nil, err
}

func (q *wq) putRec(id store.ID, r *rec) error { return q.msgs.Put(bytes.Clone(id[:]), r.encode()) }

// claim reads claim cid, or nil if it does not exist.
func (q *wq) claim(cid store.ID) (*claimRec, error) {
	v := q.claims.Get(cid[:])
	if v == nil {
		return nil, nil
	}
	c, err := decodeClaim(cid, v)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// insert stores a new unclaimed message. It is the only way a message
// enters a queue, so it gives a lazy queue its buckets.
func (q *wq) insert(id store.ID, r *rec, now int64) error {
	if err := q.materialize(); err != nil {
		return err
	}
	if err := q.putRec(id, r); err != nil {
		return err
	}
	if err := q.expiry.Put(timeKey(r.expires, id[:]), empty); err != nil {
		return err
	}
	q.noteDue(r.expires)
	q.cnt.total++
	q.dirty = true
	return q.place(id, r, now)
}

// place puts an unclaimed message in ready or delayed by its visibleAt.
func (q *wq) place(id store.ID, r *rec, now int64) error {
	if r.visibleAt > now {
		q.cnt.delayed++
		q.dirty = true
		q.noteDue(r.visibleAt)
		return q.delayed.Put(timeKey(r.visibleAt, id[:]), empty)
	}
	return q.ready.Put(bytes.Clone(id[:]), empty)
}

// remove deletes a stored message from every index; a claim left holding
// nothing ends.
func (q *wq) remove(id store.ID, r *rec, now int64) error {
	if err := q.msgs.Delete(id[:]); err != nil {
		return err
	}
	if err := q.expiry.Delete(timeKey(r.expires, id[:])); err != nil {
		return err
	}
	q.cnt.total--
	q.dirty = true
	if !r.claim.IsZero() {
		q.cnt.claimed--
		if err := q.claimMsgs.Delete(pairKey(r.claim, id)); err != nil {
			return err
		}
		c, err := q.claim(r.claim)
		if err != nil || c == nil {
			return err
		}
		c.held--
		if c.held <= 0 {
			// A claim that holds nothing is over: drop it now rather
			// than keep a record per claim until it expires.
			return q.dropClaim(r.claim, c)
		}
		return q.claims.Put(bytes.Clone(r.claim[:]), c.encode())
	}
	if dk := timeKey(r.visibleAt, id[:]); has(q.delayed, dk) {
		q.cnt.delayed--
		return q.delayed.Delete(dk)
	}
	return q.ready.Delete(id[:])
}

// dropClaim removes a claim record and its expiry entry.
func (q *wq) dropClaim(cid store.ID, c *claimRec) error {
	if err := q.claimExp.Delete(timeKey(c.expires, cid[:])); err != nil {
		return err
	}
	return q.claims.Delete(cid[:])
}

// claimMembers returns the IDs of the messages claim cid holds.
func (q *wq) claimMembers(cid store.ID) []store.ID {
	return members(q.claimMsgs, cid)
}

func members(b *bbolt.Bucket, cid store.ID) []store.ID {
	var out []store.ID
	c := b.Cursor()
	for k, _ := c.Seek(cid[:]); k != nil && bytes.HasPrefix(k, cid[:]); k, _ = c.Next() {
		if len(k) == 32 {
			out = append(out, idOf(k[16:]))
		}
	}
	return out
}

// endClaim ends a claim: its messages go back to ready or delayed (at
// *visible when the claim is released with a delay), and the claim's
// records go.
func (q *wq) endClaim(cid store.ID, c *claimRec, now int64, visible *int64) error {
	for _, id := range q.claimMembers(cid) {
		if err := q.claimMsgs.Delete(pairKey(cid, id)); err != nil {
			return err
		}
		r, ok, err := q.rec(id)
		if err != nil {
			return err
		}
		if !ok || r.claim != cid {
			continue
		}
		r.claim, r.claimExp = store.ID{}, 0
		if visible != nil {
			r.visibleAt = *visible
		}
		q.cnt.claimed--
		q.dirty = true
		if err := q.putRec(id, &r); err != nil {
			return err
		}
		if err := q.place(id, &r, now); err != nil {
			return err
		}
	}
	return q.dropClaim(cid, c)
}

// setExpires moves a stored message in the expiry index; the caller
// writes the record.
func (q *wq) setExpires(id store.ID, r *rec, t int64) error {
	if err := q.expiry.Delete(timeKey(r.expires, id[:])); err != nil {
		return err
	}
	r.expires = t
	q.noteDue(t)
	return q.expiry.Put(timeKey(t, id[:]), empty)
}

// nextReady is when a message may next become claimable: the first delay
// end or claim expiry, or never.
func nextReady(delayed, claimExp *bbolt.Bucket) int64 {
	return min(firstTime(delayed), firstTime(claimExp))
}

// purge drops every message and claim; dedup entries stay (Q6).
func (q *wq) purge() error {
	if q.lazy {
		return nil // it never held a message
	}
	for _, name := range messageBuckets {
		if err := q.b.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := q.b.CreateBucket(name); err != nil {
			return err
		}
	}
	bs, _, err := openBuckets(q.b, nil, string(queueKey(q.ref)))
	if err != nil {
		return err
	}
	q.buckets = bs
	q.setFill()
	q.cnt = counts{}
	q.dirty = true
	q.resetDue()
	return nil
}
