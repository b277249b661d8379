package bolt

import (
	"bytes"
	"context"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

func claimNotFound(id store.ID) error {
	return store.Errorf(store.ErrClaimNotFound, "claim %s not found or expired", id)
}

// CreateClaim claims up to Limit of the oldest free, visible messages (C1,
// C2, C6), moving messages that reached the queue's _max_claim_count to its
// dead-letter queue in the same transaction.
func (s *Store) CreateClaim(ctx context.Context, p store.CreateClaimParams) (store.ClaimResult, error) {
	if err := ctx.Err(); err != nil {
		return store.ClaimResult{}, err
	}
	if err := p.Check(); err != nil {
		return store.ClaimResult{}, err
	}
	// Most empty claims (consumers polling an idle queue) are answered
	// from a read transaction: a commit would cost two fsyncs for nothing.
	if len(p.Delete) == 0 {
		if res, idle, err := s.idleClaim(&p); idle || err != nil {
			return res, err
		}
	}
	var res store.ClaimResult
	err := s.update(ctx, func(w *wtx) error {
		if len(p.Delete) > 0 {
			d := p.DeleteParams()
			if err := w.deleteMessages(&d); err != nil {
				return err
			}
		}
		var err error
		res, err = w.claim(&p)
		return err
	})
	if err != nil {
		return store.ClaimResult{}, err
	}
	return res, nil
}

// claim is CreateClaim inside a write transaction.
func (w *wtx) claim(p *store.CreateClaimParams) (store.ClaimResult, error) {
	var res store.ClaimResult
	q, now, err := w.dueQueue(p.Queue, p.Now)
	if q == nil || err != nil {
		return res, err
	}
	expires, err := store.ClaimDeadline(now, p.TTL, p.Grace)
	if err != nil {
		return res, err
	}
	o, err := q.options()
	if err != nil {
		return res, err
	}
	dl := o.DeadLettering() && o.DeadLetterQueue != p.Queue.Name

	type cand struct {
		id store.ID
		r  rec
	}
	var take, moved, bad []cand
	var stale []store.ID
	c := q.ready.Cursor()
	for k, _ := c.First(); k != nil && len(take) < p.Limit; k, _ = c.Next() {
		id := idOf(k)
		r, ok, err := q.rec(id)
		if err != nil {
			return res, err
		}
		switch {
		case !ok || r.expires <= now:
			stale = append(stale, id)
		case !store.Intact(r.body, r.sum): // M11: never claimed or moved
			bad = append(bad, cand{id, r})
		case dl && int(r.claimCount) >= o.MaxClaimCount:
			moved = append(moved, cand{id, r})
		default:
			take = append(take, cand{id, r})
		}
	}
	for _, id := range stale {
		if r, ok, err := q.rec(id); err != nil {
			return res, err
		} else if ok {
			err = q.remove(id, &r, now)
			if err != nil {
				return res, err
			}
		} else if err := q.ready.Delete(id[:]); err != nil {
			return res, err
		}
	}
	for i := range bad {
		if err := w.setAside(q, bad[i].id, &bad[i].r, now); err != nil {
			return res, err
		}
	}

	var cid store.ID
	if len(take) > 0 {
		cid = w.nextID(now)
	}
	if len(moved) > 0 {
		dref := store.QueueRef{Project: p.Queue.Project, Name: o.DeadLetterQueue}
		// Past the project's queue limit too (store.Quota): refusing
		// would strand the message.
		d, _, err := w.create(dref, nil, now, 0)
		if err != nil {
			return res, err
		}
		// The move only adds to d, so d may stay behind (catchup.go).
		if err := w.advanceSome(d, now); err != nil {
			return res, err
		}
		for i := range moved {
			m := &moved[i]
			if err := q.remove(m.id, &m.r, now); err != nil {
				return res, err
			}
			r := m.r
			nid := w.nextID(now)
			res.DeadLetters = append(res.DeadLetters, store.DeadLetter{ID: m.id, NewID: nid, ClaimCount: int(r.claimCount)})
			r.claimCount, r.claim, r.claimExp = 0, store.ID{}, 0
			r.visibleAt = now
			if o.DeadLetterTTL > 0 {
				r.expires = store.AddNanos(now, int64(o.DeadLetterTTL))
			}
			// The record still points into the old page; encode copies it
			// before the page can be reused.
			if err := d.insert(nid, &r, now); err != nil {
				return res, err
			}
		}
		res.DeadLettered = len(moved)
		res.DeadLetterQueue = dref.Name
	}
	if len(take) == 0 {
		if t := nextReady(q.delayed, q.claimExp); t != never {
			res.NextReady = toTime(t)
		}
		return res, nil
	}

	until := store.AddNanos(expires, int64(p.Grace))
	out := make([]store.Message, len(take))
	for i := range take {
		m := &take[i]
		if err := q.ready.Delete(m.id[:]); err != nil {
			return res, err
		}
		m.r.claim, m.r.claimExp = cid, expires
		m.r.claimCount++
		if m.r.expires < until {
			if err := q.setExpires(m.id, &m.r, until); err != nil {
				return res, err
			}
		}
		if out[i], err = m.r.message(m.id, now); err != nil {
			return res, err
		}
		if err := q.putRec(m.id, &m.r); err != nil {
			return res, err
		}
		if err := q.claimMsgs.Put(pairKey(cid, m.id), empty); err != nil {
			return res, err
		}
	}
	q.cnt.claimed += int64(len(take))
	q.dirty = true
	cr := claimRec{ttl: int64(p.TTL), grace: int64(p.Grace), updated: now, expires: expires, held: int64(len(take))}
	if err := q.claims.Put(bytes.Clone(cid[:]), cr.encode()); err != nil {
		return res, err
	}
	if err := q.claimExp.Put(timeKey(expires, cid[:]), empty); err != nil {
		return res, err
	}
	q.noteDue(expires)
	res.Claim = cr.info(cid)
	res.Messages = out
	return res, nil
}

// GetClaim returns a live claim and the messages it still holds, or
// ErrClaimNotFound. It reads without writing.
func (s *Store) GetClaim(ctx context.Context, p store.GetClaimParams) (store.ClaimInfo, []store.Message, error) {
	if err := ctx.Err(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	now := s.observe(p.Now)
	var info store.ClaimInfo
	var out []store.Message
	var bad []store.ID
	err := s.view(func(tx *bbolt.Tx) error {
		out, bad = nil, nil
		q, err := readQueue(tx, p.Queue)
		if err != nil {
			return err
		}
		if q == nil {
			return claimNotFound(p.Claim)
		}
		v := q.claims.Get(p.Claim[:])
		if v == nil {
			return claimNotFound(p.Claim)
		}
		c, err := decodeClaim(p.Claim, v)
		if err != nil {
			return err
		}
		if c.expires <= now {
			return claimNotFound(p.Claim)
		}
		for _, id := range members(q.claimMsgs, p.Claim) {
			r, ok, err := q.rec(id)
			if err != nil {
				return err
			}
			if !ok || r.claim != p.Claim || r.expires <= now {
				continue
			}
			if !store.Intact(r.body, r.sum) {
				bad = append(bad, id)
				continue
			}
			m, err := r.message(id, now)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		if len(out) == 0 {
			return claimNotFound(p.Claim) // every message it held has gone
		}
		info = c.info(p.Claim)
		return nil
	})
	s.setAsideFound(ctx, p.Queue, bad, p.Now)
	if err != nil {
		return store.ClaimInfo{}, nil, err
	}
	return info, out, nil
}

// RenewClaim makes a live claim expire at Now+TTL and extends its messages
// again (C2, C4); claim counts stay.
func (s *Store) RenewClaim(ctx context.Context, p store.RenewClaimParams) (store.ClaimInfo, error) {
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, err
	}
	var info store.ClaimInfo
	err := s.update(ctx, func(w *wtx) error {
		now := w.s.observe(p.Now)
		q, err := w.queue(p.Queue)
		if err != nil {
			return err
		}
		if q == nil {
			return claimNotFound(p.Claim)
		}
		if err := w.advance(q, now); err != nil {
			return err
		}
		expires, err := store.ClaimDeadline(now, p.TTL, p.Grace)
		if err != nil {
			return err
		}
		c, err := q.claim(p.Claim)
		if err != nil {
			return err
		}
		if c == nil {
			return claimNotFound(p.Claim)
		}
		if err := q.claimExp.Delete(timeKey(c.expires, p.Claim[:])); err != nil {
			return err
		}
		c.ttl, c.grace, c.updated, c.expires = int64(p.TTL), int64(p.Grace), now, expires
		if err := q.claims.Put(bytes.Clone(p.Claim[:]), c.encode()); err != nil {
			return err
		}
		if err := q.claimExp.Put(timeKey(expires, p.Claim[:]), empty); err != nil {
			return err
		}
		q.noteDue(expires)
		until := store.AddNanos(expires, c.grace)
		for _, id := range q.claimMembers(p.Claim) {
			r, ok, err := q.rec(id)
			if err != nil {
				return err
			}
			if !ok || r.claim != p.Claim {
				continue
			}
			r.claimExp = expires
			if r.expires < until {
				if err := q.setExpires(id, &r, until); err != nil {
					return err
				}
			}
			if err := q.putRec(id, &r); err != nil {
				return err
			}
		}
		info = c.info(p.Claim)
		return nil
	})
	if err != nil {
		return store.ClaimInfo{}, err
	}
	return info, nil
}

// ReleaseClaim ends a live claim; its messages become visible at Now+Delay
// (C5). With IDs it frees only those of its messages, and the claim ends
// once it holds none. An unknown or expired claim is a no-op.
func (s *Store) ReleaseClaim(ctx context.Context, p store.ReleaseClaimParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		q, now, err := w.dueQueue(p.Queue, p.Now)
		if q == nil || err != nil {
			return err
		}
		if store.Overflows(now, p.Delay) {
			return store.Errorf(store.ErrInvalidDelay, "release delay %v: deadline overflows", p.Delay)
		}
		c, err := q.claim(p.Claim)
		if c == nil || err != nil {
			return err
		}
		if p.Unstarted {
			if err := q.uncount(p.Claim, p.IDs); err != nil {
				return err
			}
		}
		visible := now + int64(p.Delay)
		if len(p.IDs) > 0 {
			return q.releaseSome(p.Claim, c, p.IDs, now, visible)
		}
		return q.endClaim(p.Claim, c, now, &visible)
	})
}

// releaseSome frees the messages among ids that claim cid (record c) holds,
// making them visible at visible (C5), and skips the rest. Claim counts
// stay. Like a delete, the release that takes the claim's last message
// ends it. Each message costs a few seeks: O(log n), no scan of the claim.
func (q *wq) releaseSome(cid store.ID, c *claimRec, ids []store.ID, now, visible int64) error {
	released := int64(0)
	for _, id := range ids {
		// After advance, a record naming cid is held by the live claim.
		// A repeated ID names no claim the second time.
		r, ok, err := q.rec(id)
		if err != nil {
			return err
		}
		if !ok || r.claim != cid {
			continue
		}
		if err := q.claimMsgs.Delete(pairKey(cid, id)); err != nil {
			return err
		}
		r.claim, r.claimExp = store.ID{}, 0
		r.visibleAt = visible
		if err := q.putRec(id, &r); err != nil {
			return err
		}
		if err := q.place(id, &r, now); err != nil {
			return err
		}
		released++
	}
	if released == 0 {
		return nil
	}
	q.cnt.claimed -= released
	q.dirty = true
	c.held -= released
	if c.held <= 0 {
		return q.dropClaim(cid, c)
	}
	return q.claims.Put(bytes.Clone(cid[:]), c.encode())
}

// uncount takes back the claim count that claim cid added to each of its
// messages among ids, or to all of them when ids is empty (J1), before a
// release of unstarted work. The release that follows rewrites the same
// records in this transaction, so the extra write costs no I/O.
func (q *wq) uncount(cid store.ID, ids []store.ID) error {
	if len(ids) == 0 {
		ids = q.claimMembers(cid)
	}
	seen := make(map[store.ID]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, ok, err := q.rec(id)
		if err != nil {
			return err
		}
		if !ok || r.claim != cid || r.claimCount == 0 {
			continue
		}
		r.claimCount--
		if err := q.putRec(id, &r); err != nil {
			return err
		}
	}
	return nil
}

// idleClaim reports idle when CreateClaim would find nothing to claim and
// change nothing visible: the queue is missing, or its ready index is
// empty and nothing is due. It then returns the result the write would.
func (s *Store) idleClaim(p *store.CreateClaimParams) (res store.ClaimResult, idle bool, err error) {
	now := s.observe(p.Now)
	m, idle, err := s.idleQueue(p.Queue, now)
	if !idle || err != nil {
		return res, false, err
	}
	if m.until != missingQueue {
		if _, err := store.ClaimDeadline(now, p.TTL, p.Grace); err != nil {
			return res, false, err
		}
	}
	if m.next != never {
		res.NextReady = toTime(m.next)
	}
	return res, true, nil
}

// missingQueue is the until of the mark idleQueue returns for a missing
// queue; such marks are not kept.
const missingQueue = -1

// idleQueue reports whether queue ref is missing, or has no free message
// and nothing due at now, from its idle mark or else a read. When it is
// idle, the mark says until when and the NextReady to report.
func (s *Store) idleQueue(ref store.QueueRef, now int64) (m idleMark, idle bool, err error) {
	key := string(queueKey(ref))
	if m, ok := s.commit.idleAt(key, now); ok {
		return m, true, nil
	}
	gen := int64(s.commit.gen.Load())
	err = s.view(func(tx *bbolt.Tx) error {
		q, err := readQueue(tx, ref)
		if err != nil {
			return err
		}
		if q == nil {
			m, idle = idleMark{gen: gen, until: missingQueue, next: never}, true
			return nil
		}
		if k, _ := q.ready.Cursor().First(); k != nil {
			return nil
		}
		until := q.due()
		if until <= now {
			return nil
		}
		m, idle = idleMark{gen: gen, until: until, next: nextReady(q.delayed, q.claimExp)}, true
		s.commit.markIdle(key, m)
		return nil
	})
	return m, idle, err
}
