package memory

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// CreateClaim claims up to Limit of the oldest free, visible messages (C1,
// C2, C6), moving messages that reached the queue's _max_claim_count to its
// dead-letter queue in the same critical section.
func (s *Store) CreateClaim(ctx context.Context, p store.CreateClaimParams) (store.ClaimResult, error) {
	if err := ctx.Err(); err != nil {
		return store.ClaimResult{}, err
	}
	if err := p.Check(); err != nil {
		return store.ClaimResult{}, err
	}
	now := s.observe(p.Now)
	for {
		q, err := s.lookup(p.Queue)
		if q == nil || err != nil {
			if err == nil && len(p.Delete) > 0 {
				err = store.Gone(p.Delete[0], p.DeleteClaim) // no queue holds nothing
			}
			return store.ClaimResult{}, err
		}
		c := q.conf.Load()
		var d *queue // the dead-letter queue, locked with q
		dref := store.QueueRef{Project: p.Queue.Project, Name: c.opts.DeadLetterQueue}
		dl := c.opts.DeadLettering() && dref.Name != p.Queue.Name
		if dl {
			if d, err = s.lookup(dref); err != nil {
				return store.ClaimResult{}, err
			}
		}
		if d == nil {
			q.mu.Lock()
		} else if q.ref.Name < d.ref.Name {
			q.mu.Lock()
			d.mu.Lock()
		} else {
			d.mu.Lock()
			q.mu.Lock()
		}
		stale := q.dead || q.conf.Load() != c || d != nil && d.dead
		// Apply what fell due in both queues, at most catchUpBatch items
		// in all while they are locked (B1). If more is due, catch them
		// up with their locks free between steps and start again.
		behind := false
		if !stale {
			left, more := q.applyDue(now, catchUpBatch)
			if !more && d != nil {
				_, more = d.applyDue(now, left)
			}
			behind = more
		}
		var res store.ClaimResult
		var needDLQ bool
		if !stale && !behind {
			res, needDLQ, err = s.deleteAndClaim(q, d, dl, &c.opts, &p, now)
		}
		if d != nil {
			d.mu.Unlock()
		}
		a := q.aside
		q.aside = aside{}
		q.mu.Unlock()
		s.report(&a)
		switch {
		case stale:
		case behind:
			q.released()
			q.catchUp(now)
			if d != nil {
				d.released()
				d.catchUp(now)
			}
		case needDLQ:
			// Create the dead-letter queue outside the queue locks, then
			// try again from the start; past the project's queue limit
			// too (store.Quota): refusing would strand the message.
			if _, _, err := s.create(dref, emptyConf, now, 0); err != nil {
				return store.ClaimResult{}, err
			}
		default:
			return res, err
		}
	}
}

// deleteAndClaim deletes p.Delete under p.DeleteClaim, if any, and claims:
// the delete is checked first and applied only once the claim has
// succeeded, so a failure of either changes nothing. Arguments and
// results are claim's.
func (s *Store) deleteAndClaim(q, d *queue, dl bool, o *store.QueueOptions, p *store.CreateClaimParams, now int64) (res store.ClaimResult, needDLQ bool, err error) {
	var found []*message
	if len(p.Delete) > 0 {
		if found, err = q.deletable(nil, p.Delete, p.DeleteClaim, nil); err != nil {
			return res, false, err
		}
	}
	res, needDLQ, err = s.claim(q, d, dl, o, p, now)
	if err != nil || needDLQ || len(found) == 0 {
		return res, needDLQ, err
	}
	q.removeAll(found)
	if len(res.Messages) == 0 {
		res.NextReady = q.nextReady() // the deleted messages' claim may have ended
	}
	return res, false, nil
}

// claim runs CreateClaim on q, locked, with d (if not nil) its dead-letter
// queue, also locked; neither has anything due at now. dl says whether
// dead-lettering is on. It reports needDLQ, having changed nothing, when a
// message must move to a dead-letter queue that does not exist yet.
func (s *Store) claim(q, d *queue, dl bool, o *store.QueueOptions, p *store.CreateClaimParams, now int64) (res store.ClaimResult, needDLQ bool, err error) {
	now = q.at(now)
	expires, err := store.ClaimDeadline(now, p.TTL, p.Grace)
	if err != nil {
		return res, false, err
	}
	var ms, moved, bad []*message
	if n := min(p.Limit, q.ready.Len()); n > 0 {
		ms = make([]*message, 0, n)
	}
	for len(ms) < p.Limit {
		it, ok := q.ready.DeleteMin()
		if !ok {
			break
		}
		m := q.msgs.items[it.i]
		if !m.intact() { // M11: set aside below, never claimed or moved
			bad = append(bad, m)
			continue
		}
		if dl && int(m.count) >= o.MaxClaimCount {
			moved = append(moved, m)
			continue
		}
		ms = append(ms, m)
	}
	if len(moved) > 0 && d == nil {
		q.untake(ms)
		q.untake(moved)
		q.untake(bad)
		return res, true, nil
	}
	out, err := records(ms)
	if err != nil {
		q.untake(ms)
		q.untake(moved)
		q.untake(bad)
		return res, false, err
	}

	// Committed from here on.
	s.setAside(q, bad, now, &q.aside)
	var dnow int64
	if len(moved) > 0 {
		dnow = d.at(now)
	}
	var cid store.ID
	s.idMu.Lock()
	t := time.Unix(0, now)
	if len(ms) > 0 {
		cid = s.ids.Next(t)
	}
	if len(moved) > 0 {
		td := time.Unix(0, dnow)
		res.DeadLetters = make([]store.DeadLetter, len(moved))
		for i, m := range moved {
			m.state = stGone // already out of ready
			q.remove(m)
			old := m.k.id()
			m.k = keyOf(s.ids.Next(td))
			res.DeadLetters[i] = store.DeadLetter{ID: old, NewID: m.k.id(), ClaimCount: int(m.count)}
		}
	}
	s.idMu.Unlock()

	if len(moved) > 0 {
		for _, m := range moved {
			m.count = 0
			m.claim = nil
			m.visibleAt = dnow
			if o.DeadLetterTTL > 0 {
				m.expires = store.AddNanos(dnow, int64(o.DeadLetterTTL))
			}
			d.insert(m)
		}
		res.DeadLettered = len(moved)
		res.DeadLetterQueue = d.ref.Name
	}
	if len(ms) == 0 {
		res.NextReady = q.nextReady()
		return res, false, nil
	}
	c := &claim{
		k:       keyOf(cid),
		ttl:     int64(p.TTL),
		grace:   int64(p.Grace),
		updated: now,
		expires: expires,
		msgs:    ms,
		held:    len(ms),
	}
	c.idx = q.cls.put(c)
	q.claims.ReplaceOrInsert(c.byID())
	q.claimExp.ReplaceOrInsert(c.byTime(expires))
	q.noteDue(expires)
	until := expires + int64(p.Grace)
	cexp := toTime(expires)
	for i, m := range ms {
		m.state = stClaimed
		m.claim = c
		m.slot = int32(i)
		m.count++
		if m.expires < until {
			q.setExpires(m, until)
			out[i].Expires = toTime(until)
		}
		out[i].ClaimID = cid
		out[i].ClaimExpires = cexp
		out[i].ClaimCount = int(m.count)
	}
	q.claimed += int64(len(ms))
	res.Claim = c.info()
	res.Messages = out
	return res, false, nil
}

func (c *claim) info() store.ClaimInfo {
	return store.ClaimInfo{
		ID:      c.k.id(),
		TTL:     time.Duration(c.ttl),
		Grace:   time.Duration(c.grace),
		Updated: toTime(c.updated),
		Expires: toTime(c.expires),
	}
}

// find returns the message with key k that c holds, or nil if it does not
// hold it or the search gives up. c may be nil. c.msgs is in ID order with
// nil slots: a binary search steps left over a few nil slots from each
// midpoint, and gives up (the caller then searches the queue) rather than
// scan a long run of them.
func (c *claim) find(k key) *message {
	if c == nil {
		return nil
	}
	lo, hi := 0, len(c.msgs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		j := mid
		for j >= lo && c.msgs[j] == nil {
			if mid-j >= 8 {
				return nil
			}
			j--
		}
		if j < lo {
			lo = mid + 1
			continue
		}
		m := c.msgs[j]
		switch {
		case m.k == k:
			if m.claim != c {
				return nil
			}
			return m
		case m.k.less(k):
			lo = mid + 1
		default:
			hi = j
		}
	}
	return nil
}

// live returns the messages a claim still holds.
func (c *claim) live() []*message {
	ms := make([]*message, 0, c.held)
	for _, m := range c.msgs {
		if m != nil && m.claim == c {
			ms = append(ms, m)
		}
	}
	return ms
}

func claimNotFound(id store.ID) error {
	return store.Errorf(store.ErrClaimNotFound, "claim %s not found or expired", id)
}

// GetClaim returns a live claim and the messages it still holds, or
// ErrClaimNotFound. A claim whose messages have all been deleted has ended.
func (s *Store) GetClaim(ctx context.Context, p store.GetClaimParams) (store.ClaimInfo, []store.Message, error) {
	if err := ctx.Err(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if err != nil {
		return store.ClaimInfo{}, nil, err
	}
	if q == nil {
		return store.ClaimInfo{}, nil, claimNotFound(p.Claim)
	}
	c := q.findClaim(keyOf(p.Claim))
	if c == nil {
		q.mu.Unlock()
		return store.ClaimInfo{}, nil, claimNotFound(p.Claim)
	}
	var ms, bad []*message
	for _, m := range c.live() {
		if m.intact() {
			ms = append(ms, m)
		} else {
			bad = append(bad, m)
		}
	}
	out, err := records(ms)
	info := c.info()
	var a aside
	s.setAside(q, bad, now, &a) // may end c, when it held only these
	q.mu.Unlock()
	s.report(&a)
	if err == nil && len(out) == 0 {
		err = claimNotFound(p.Claim)
	}
	if err != nil {
		return store.ClaimInfo{}, nil, err
	}
	return info, out, nil
}

// RenewClaim makes a live claim expire at Now+TTL and extends its messages
// again (C2, C4); claim counts stay.
func (s *Store) RenewClaim(ctx context.Context, p store.RenewClaimParams) (store.ClaimInfo, error) {
	if err := ctx.Err(); err != nil {
		return store.ClaimInfo{}, err
	}
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, err
	}
	now := s.observe(p.Now)
	q, now, err := s.lockAt(p.Queue, now)
	if err != nil {
		return store.ClaimInfo{}, err
	}
	if q == nil {
		return store.ClaimInfo{}, claimNotFound(p.Claim)
	}
	expires, err := store.ClaimDeadline(now, p.TTL, p.Grace)
	if err != nil {
		q.mu.Unlock()
		return store.ClaimInfo{}, err
	}
	c := q.findClaim(keyOf(p.Claim))
	if c == nil {
		q.mu.Unlock()
		return store.ClaimInfo{}, claimNotFound(p.Claim)
	}
	q.claimExp.Delete(entry{t: c.expires, k: c.k})
	c.ttl, c.grace, c.updated, c.expires = int64(p.TTL), int64(p.Grace), now, expires
	q.claimExp.ReplaceOrInsert(c.byTime(expires))
	q.noteDue(expires)
	q.extend(c)
	info := c.info()
	q.mu.Unlock()
	return info, nil
}

// ReleaseClaim ends a live claim; its messages become visible at Now+Delay
// (C5). With IDs it frees only those of its messages, and the claim ends
// once it holds none. An unknown or expired claim is a no-op.
func (s *Store) ReleaseClaim(ctx context.Context, p store.ReleaseClaimParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	now := s.observe(p.Now)
	q, now, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		return err
	}
	if store.Overflows(now, p.Delay) {
		q.mu.Unlock()
		return store.Errorf(store.ErrInvalidDelay, "release delay %v: deadline overflows", p.Delay)
	}
	c := q.findClaim(keyOf(p.Claim))
	if c == nil {
		q.mu.Unlock()
		return nil
	}
	if p.Unstarted {
		q.uncount(c, p.IDs)
	}
	visible := now + int64(p.Delay)
	if len(p.IDs) > 0 {
		q.releaseSome(c, p.IDs, visible)
		q.mu.Unlock()
		return nil
	}
	for _, m := range c.msgs {
		if m != nil && m.claim == c {
			m.visibleAt = visible
		}
	}
	q.endClaim(c, now)
	q.mu.Unlock()
	return nil
}

// releaseSome frees the messages among ids that claim c holds, making them
// visible at visible (C5), and skips the rest. Claim counts stay. Like a
// delete, the release that takes c's last message ends c. Each message
// costs a search of c or of the queue: O(log n).
func (q *queue) releaseSome(c *claim, ids []store.ID, visible int64) {
	for _, id := range ids {
		k := keyOf(id)
		m := c.find(k)
		if m == nil {
			// find gives up on long runs of empty slots; the queue's
			// index has the answer. Once c has ended no message names
			// it, so later IDs are skipped here.
			if m = q.findMsg(k); m == nil || m.claim != c {
				continue
			}
		}
		m.visibleAt = visible
		q.unhold(m)
		q.place(m)
	}
}

// uncount takes back the claim count that claim c added to each of its
// messages among ids, or to all of them when ids is empty (J1), before a
// release of unstarted work. A repeated ID is taken once.
func (q *queue) uncount(c *claim, ids []store.ID) {
	if len(ids) == 0 {
		for _, m := range c.live() {
			m.count = max(m.count-1, 0)
		}
		return
	}
	seen := make(map[key]bool, len(ids))
	for _, id := range ids {
		k := keyOf(id)
		if seen[k] {
			continue
		}
		seen[k] = true
		m := c.find(k)
		if m == nil {
			if m = q.findMsg(k); m == nil || m.claim != c {
				continue
			}
		}
		m.count = max(m.count-1, 0)
	}
}
