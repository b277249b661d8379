package bolt

import (
	"context"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// checkPost validates what a post can check without the queue (M4, M5,
// M10), so bad input fails before it reaches the committer.
func checkPost(p *store.PostParams) error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	dedups := false
	for i := range p.Messages {
		d := &p.Messages[i]
		if d.TTL < 0 {
			return store.Errorf(store.ErrInvalidTTL, "message %d: ttl %v: negative", i, d.TTL)
		}
		if d.Delay < 0 {
			return store.Errorf(store.ErrInvalidDelay, "message %d: delay %v: negative", i, d.Delay)
		}
		if d.DedupID != "" {
			dedups = true
		}
	}
	if dedups && p.DedupWindow < 0 {
		return store.Errorf(store.ErrInvalidTTL, "dedup window %v: negative", p.DedupWindow)
	}
	return nil
}

// PostMessages stores a batch atomically and returns its IDs in input order
// (M1) once the batch is fsynced, creating the queue if it is missing (Q2).
func (s *Store) PostMessages(ctx context.Context, p store.PostParams) ([]store.ID, error) {
	if err := checkPost(&p); err != nil {
		return nil, err
	}
	sums := make([]uint32, len(p.Messages))
	for i := range p.Messages {
		sums[i] = store.Checksum(p.Messages[i].Body)
	}
	var ids []store.ID
	err := s.update(ctx, func(w *wtx) error {
		var err error
		ids, err = w.post(&p, sums)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// PostTx posts like PostMessages inside the application's own write
// transaction on DB() (X2): the messages commit, and become durable, with
// the application's writes, or not at all. On an error the caller must roll
// its transaction back (return the error from its Update function), since
// the post may have written part of its work.
func (s *Store) PostTx(tx *bbolt.Tx, p store.PostParams) ([]store.ID, error) {
	defer faultsPanic()() // runOp below recovers what it turns into panics
	if s.closed.Load() {
		return nil, errClosed()
	}
	if tx == nil || tx.DB() != s.db || !tx.Writable() {
		return nil, store.Errorf(store.ErrInvalid, "PostTx: want a write transaction on this store's DB")
	}
	if err := checkPost(&p); err != nil {
		return nil, err
	}
	sums := make([]uint32, len(p.Messages))
	for i := range p.Messages {
		sums[i] = store.Checksum(p.Messages[i].Body)
	}
	// The application commits tx, outside the committer: a commit moves
	// the generation that idle marks hold for.
	tx.OnCommit(func() {
		s.commit.gen.Add(1)
		s.noteWrite(nil)
	})
	w := s.newWtx(tx)
	var ids []store.ID
	err := w.runOp(func(w *wtx) error {
		var err error
		ids, err = w.post(&p, sums)
		return err
	})
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// post is PostMessages inside a write transaction.
func (w *wtx) post(p *store.PostParams, sums []uint32) ([]store.ID, error) {
	now := w.s.observe(p.Now)
	q, err := w.queue(p.Queue)
	if err != nil {
		return nil, err
	}
	o := &store.QueueOptions{}
	if q != nil {
		if o, err = q.options(); err != nil {
			return nil, err
		}
	}
	size := 0
	for i := range p.Messages {
		size += len(p.Messages[i].Body)
	}
	if o.MaxPostSize > 0 && size > o.MaxPostSize {
		return nil, store.Errorf(store.ErrTooLarge, "post of %d bytes: more than the queue's %s %d", size, store.KeyMaxPostSize, o.MaxPostSize)
	}
	ttls := make([]time.Duration, len(p.Messages))
	delays := make([]time.Duration, len(p.Messages))
	for i := range p.Messages {
		d := &p.Messages[i]
		ttl, delay := o.MessageTTL(*d, p.DefaultTTL), o.MessageDelay(*d)
		if store.Overflows(now, ttl) {
			return nil, store.Errorf(store.ErrInvalidTTL, "ttl %v: deadline overflows", ttl)
		}
		if store.Overflows(now, delay) {
			return nil, store.Errorf(store.ErrInvalidDelay, "delay %v: deadline overflows", delay)
		}
		ttls[i], delays[i] = ttl, delay
	}
	if q == nil {
		if q, _, err = w.create(p.Queue, nil, now, p.Quota.QueuesPerProject); err != nil {
			return nil, err
		}
	}
	// A post only adds to the queue, and reads dedup entries at now
	// below, so it is right on a queue that is still behind: it applies
	// what the transaction's budget allows and goes on (B1).
	if err := w.advanceSome(q, now); err != nil {
		return nil, err
	}
	window := p.DedupWindow
	if window == 0 {
		window = store.DefaultDedupWindow
	}
	dedupUntil := store.AddNanos(now, int64(window))
	ids := make([]store.ID, len(p.Messages))
	var stored []int // the drafts stored, not dedup'd
	var inBatch map[string]int
	for i := range p.Messages {
		d := &p.Messages[i]
		if d.DedupID != "" {
			if v := q.dedup.Get([]byte(d.DedupID)); len(v) == 24 {
				until := keyTime(v[16:])
				if until > now {
					ids[i] = idOf(v[:16])
					continue
				}
				// Expired, but the queue is behind and has not applied it.
				if err := q.dropDedup(d.DedupID, until); err != nil {
					return nil, err
				}
			}
			if j, ok := inBatch[d.DedupID]; ok {
				ids[i] = ids[j]
				continue
			}
		}
		id := w.nextID(now)
		ids[i] = id
		stored = append(stored, i)
		r := rec{
			created:   now,
			expires:   now + int64(ttls[i]),
			visibleAt: now + int64(delays[i]),
			sum:       sums[i],
			clientID:  []byte(p.ClientID),
			body:      d.Body,
		}
		if err := q.insert(id, &r, now); err != nil {
			return nil, err
		}
		if d.DedupID != "" {
			if inBatch == nil {
				inBatch = make(map[string]int)
			}
			inBatch[d.DedupID] = i
			v := make([]byte, 24)
			copy(v, id[:])
			copy(v[16:], int64Bytes(dedupUntil))
			if err := q.dedup.Put([]byte(d.DedupID), v); err != nil {
				return nil, err
			}
			if err := q.dedupExp.Put(timeKey(dedupUntil, []byte(d.DedupID)), empty); err != nil {
				return nil, err
			}
			q.noteDue(dedupUntil)
		}
	}
	// The outbox (S2): in this transaction, so the post and its
	// deliveries commit together.
	if len(stored) > 0 {
		if err := w.fanOut(q, p, now, ids, stored, ttls, sums); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ListMessages returns up to Limit messages after Marker, oldest first,
// filtered as M6 says. It reads without writing.
func (s *Store) ListMessages(ctx context.Context, p store.ListMessagesParams) ([]store.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "list limit"); err != nil {
		return nil, err
	}
	now := s.observe(p.Now)
	var out []store.Message
	var bad []store.ID
	err := s.view(func(tx *bbolt.Tx) error {
		q, err := readQueue(tx, p.Queue)
		if q == nil || err != nil {
			return err
		}
		out, bad, err = q.list(now, &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.setAsideFound(ctx, p.Queue, bad, p.Now)
	return out, nil
}

// GetMessages returns the unexpired messages among IDs, in the order asked,
// each once (M7).
func (s *Store) GetMessages(ctx context.Context, p store.GetMessagesParams) ([]store.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	now := s.observe(p.Now)
	var out []store.Message
	var bad []store.ID
	err := s.view(func(tx *bbolt.Tx) error {
		out, bad = nil, nil
		q, err := readQueue(tx, p.Queue)
		if q == nil || err != nil {
			return err
		}
		seen := make(map[store.ID]bool, len(p.IDs))
		for _, id := range p.IDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			r, ok, err := q.rec(id)
			if err != nil {
				return err
			}
			if !ok || r.expires <= now {
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.setAsideFound(ctx, p.Queue, bad, p.Now)
	return out, nil
}

// DeleteMessages deletes messages, checking claims first as M8 says; a
// failed check deletes nothing.
func (s *Store) DeleteMessages(ctx context.Context, p store.DeleteMessagesParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error { return w.deleteMessages(&p) })
}

// deleteMessages is DeleteMessages inside a write transaction: it checks
// every named message first, so a failed check deletes nothing. Under a
// claim a missing message fails the check (ErrMessageGone); without one
// it is skipped.
func (w *wtx) deleteMessages(p *store.DeleteMessagesParams) error {
	q, now, err := w.dueQueue(p.Queue, p.Now)
	if q == nil || err != nil {
		if err == nil && !p.Claim.IsZero() && len(p.IDs) > 0 {
			return store.Gone(p.IDs[0], p.Claim) // no queue holds nothing
		}
		return err
	}
	type found struct {
		id store.ID
		r  rec
	}
	var fs []found
	seen := make(map[store.ID]bool, len(p.IDs))
	for _, id := range p.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, ok, err := q.rec(id)
		if err != nil {
			return err
		}
		if !ok {
			if !p.Claim.IsZero() {
				return store.Gone(id, p.Claim)
			}
			continue
		}
		if !p.IgnoreClaims {
			if err := checkClaim(id, &r, p.Claim); err != nil {
				return err
			}
		}
		fs = append(fs, found{id, r})
	}
	for i := range fs {
		if err := q.remove(fs[i].id, &fs[i].r, now); err != nil {
			return err
		}
	}
	return nil
}

// checkClaim applies M8 to one message; after advance, a set claim ID in
// a record is a live claim.
func checkClaim(id store.ID, r *rec, cid store.ID) error {
	switch {
	case cid.IsZero():
		if !r.claim.IsZero() {
			return store.Errorf(store.ErrClaimMismatch, "message %s is under a claim; delete it with that claim", id)
		}
	case r.claim.IsZero():
		return store.NotClaimed(id, cid)
	case r.claim != cid:
		return store.Errorf(store.ErrClaimMismatch, "message %s is under another claim than %s", id, cid)
	}
	return nil
}

// PopMessages deletes and returns up to Limit of the oldest free, visible
// messages (M9). A corrupt body fails the call and deletes nothing.
func (s *Store) PopMessages(ctx context.Context, p store.PopParams) ([]store.Message, error) {
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "pop limit"); err != nil {
		return nil, err
	}
	// Popping an idle queue needs no commit.
	if idle, err := s.idle(p.Queue, p.Now); idle || err != nil {
		return nil, err
	}
	var out []store.Message
	err := s.update(ctx, func(w *wtx) error {
		out = nil
		q, now, err := w.dueQueue(p.Queue, p.Now)
		if q == nil || err != nil {
			return err
		}
		type found struct {
			id store.ID
			r  rec
			ok bool
		}
		// Collected first: a cursor must not run over the ready index
		// the removals change. Damaged messages do not count towards
		// Limit: they are set aside and the next ones taken (M11).
		var fs []found
		c := q.ready.Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n < p.Limit; k, _ = c.Next() {
			id := idOf(k)
			r, ok, err := q.rec(id)
			if err != nil {
				return err
			}
			if ok && store.Intact(r.body, r.sum) {
				n++
			}
			fs = append(fs, found{id, r, ok})
		}
		for i := range fs {
			id, r, ok := fs[i].id, &fs[i].r, fs[i].ok
			if !ok {
				if err := q.ready.Delete(id[:]); err != nil { // a stale entry
					return err
				}
				continue
			}
			if !store.Intact(r.body, r.sum) {
				if err := w.setAside(q, id, r, now); err != nil {
					return err
				}
				continue
			}
			m, err := r.message(id, now)
			if err != nil {
				return err
			}
			if err := q.remove(id, r, now); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// idle reports whether queue ref is missing, or has no free message and
// nothing due at now, without a commit.
func (s *Store) idle(ref store.QueueRef, t time.Time) (bool, error) {
	_, idle, err := s.idleQueue(ref, s.observe(t))
	return idle, err
}
