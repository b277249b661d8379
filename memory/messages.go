package memory

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// PostMessages stores a batch atomically and returns its IDs in input order
// (M1), creating the queue if it is missing (Q2). Bodies are copied and
// checksummed before the queue is locked.
func (s *Store) PostMessages(ctx context.Context, p store.PostParams) ([]store.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	var one [1]*message
	ms := one[:]
	if len(p.Messages) != 1 {
		ms = make([]*message, len(p.Messages))
	}
	size, dedup, err := preparePost(&p, ms)
	if err != nil {
		return nil, err
	}
	now := s.observe(p.Now)

	var q *queue
	var maxTTL, maxDelay time.Duration
	for {
		var err error
		if q, err = s.lookup(p.Queue); err != nil {
			return nil, err
		}
		c := emptyConf
		if q != nil {
			c = q.conf.Load()
		}
		if maxTTL, maxDelay, err = resolve(ms, &p, c, size, now); err != nil {
			return nil, err
		}
		if q == nil {
			if q, _, err = s.create(p.Queue, emptyConf, now, p.Quota.QueuesPerProject); err != nil {
				return nil, err
			}
		}
		qnow, ok := q.lockAt(now)
		if ok && q.conf.Load() == c {
			now = qnow
			break
		}
		if ok {
			q.mu.Unlock()
		}
	}

	if store.Overflows(now, maxTTL) {
		q.mu.Unlock()
		return nil, store.Errorf(store.ErrInvalidTTL, "ttl %v: deadline overflows", maxTTL)
	}
	if store.Overflows(now, maxDelay) {
		q.mu.Unlock()
		return nil, store.Errorf(store.ErrInvalidDelay, "delay %v: deadline overflows", maxDelay)
	}
	ids := s.commitPost(q, now, ms, &p, dedup)
	q.mu.Unlock()
	return ids, nil
}

// preparePost checks what a post can check without its queue (M4, M5,
// M10) and fills ms, one per draft, with copied and checksummed bodies. It
// returns the batch's summed body size and whether any draft has a
// DedupID. It takes no lock.
func preparePost(p *store.PostParams, ms []*message) (size int, dedup bool, err error) {
	for i := range p.Messages {
		d := &p.Messages[i]
		if d.TTL < 0 {
			return 0, false, store.Errorf(store.ErrInvalidTTL, "message %d: ttl %v: negative", i, d.TTL)
		}
		if d.Delay < 0 {
			return 0, false, store.Errorf(store.ErrInvalidDelay, "message %d: delay %v: negative", i, d.Delay)
		}
		size += len(d.Body)
		if d.DedupID != "" {
			dedup = true
		}
	}
	if dedup && p.DedupWindow < 0 {
		return 0, false, store.Errorf(store.ErrInvalidTTL, "dedup window %v: negative", p.DedupWindow)
	}
	// Until commitPost, expires holds the TTL and visibleAt the delay.
	for i := range p.Messages {
		d := &p.Messages[i]
		m := &message{clientID: p.ClientID}
		if len(d.Body) > 0 {
			m.body = make([]byte, len(d.Body))
			copy(m.body, d.Body)
		}
		m.sum = store.Checksum(m.body)
		ms[i] = m
	}
	return size, dedup, nil
}

// commitPost stores a batch that passed preparePost and resolve in q,
// locked and advanced to now, with a delivery per live subscription for
// each message it stores (S2), and returns its IDs (M1, M2, M10). It
// cannot fail: every check is done.
func (s *Store) commitPost(q *queue, now int64, ms []*message, p *store.PostParams, dedup bool) []store.ID {
	ids := make([]store.ID, len(ms))
	var first []int // first[i] is the draft whose ID draft i shares, or -1
	if dedup {
		first = q.dedupBatch(ms, p.Messages, ids)
	}

	s.idMu.Lock()
	t := time.Unix(0, now)
	for i, m := range ms {
		if first == nil || first[i] == i {
			ids[i] = s.ids.Next(t)
			m.k = keyOf(ids[i])
		}
	}
	s.idMu.Unlock()

	window := p.DedupWindow
	if window == 0 {
		window = store.DefaultDedupWindow
	}
	dedupUntil := store.AddNanos(now, int64(window))
	for i, m := range ms {
		if first != nil && first[i] != i {
			if j := first[i]; j >= 0 {
				ids[i] = ids[j]
			}
			continue
		}
		m.created = now
		m.expires += now
		m.visibleAt += now
		q.insert(m)
		if first != nil && p.Messages[i].DedupID != "" {
			q.addDedup(p.Messages[i].DedupID, ids[i], dedupUntil)
		}
	}
	if q.nsubs > 0 {
		s.fanOut(q, now, ms, first, p.ConfirmedOnly) // the outbox (S2)
	}
	return ids
}

// resolve sets each message's TTL and delay (in expires and visibleAt) from
// its draft, the queue's options and the post's defaults, and checks the
// batch size and that no deadline overflows at now. It returns the largest
// TTL and delay.
func resolve(ms []*message, p *store.PostParams, c *conf, size int, now int64) (maxTTL, maxDelay time.Duration, err error) {
	o := &c.opts
	if o.MaxPostSize > 0 && size > o.MaxPostSize {
		return 0, 0, store.Errorf(store.ErrTooLarge, "post of %d bytes: more than the queue's %s %d", size, store.KeyMaxPostSize, o.MaxPostSize)
	}
	for i, m := range ms {
		d := &p.Messages[i]
		ttl, delay := o.MessageTTL(*d, p.DefaultTTL), o.MessageDelay(*d)
		m.expires, m.visibleAt = int64(ttl), int64(delay)
		maxTTL, maxDelay = max(maxTTL, ttl), max(maxDelay, delay)
	}
	if store.Overflows(now, maxTTL) {
		return 0, 0, store.Errorf(store.ErrInvalidTTL, "ttl %v: deadline overflows", maxTTL)
	}
	if store.Overflows(now, maxDelay) {
		return 0, 0, store.Errorf(store.ErrInvalidDelay, "delay %v: deadline overflows", maxDelay)
	}
	return maxTTL, maxDelay, nil
}

// dedupBatch resolves the DedupIDs of a batch (M10). It returns, per draft,
// its own index if it is to be stored, the index of an earlier draft of the
// batch with the same DedupID, or -1 if a dedup entry already names its ID
// (which it writes to ids).
func (q *queue) dedupBatch(ms []*message, ds []store.Draft, ids []store.ID) []int {
	first := make([]int, len(ms))
	var inBatch map[string]int
	for i := range ms {
		first[i] = i
		k := ds[i].DedupID
		if k == "" {
			continue
		}
		if d, ok := q.dedups.Get(&dedup{key: k}); ok {
			ids[i] = d.id
			first[i] = -1
			continue
		}
		if j, ok := inBatch[k]; ok {
			first[i] = j
			continue
		}
		if inBatch == nil {
			inBatch = make(map[string]int)
		}
		inBatch[k] = i
	}
	return first
}

func (q *queue) addDedup(k string, id store.ID, until int64) {
	q.dedupSeq++
	d := &dedup{key: k, id: id, expires: until, seq: q.dedupSeq}
	q.dedups.ReplaceOrInsert(d)
	q.dedupExp.ReplaceOrInsert(dedupByTime{until, d.seq, d})
	q.noteDue(until)
}

// ListMessages returns up to Limit messages after Marker, oldest first,
// filtered as M6 says.
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
	q, _, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		return nil, err
	}
	noEcho := p.ClientID != "" && !p.Echo
	var ms, bad []*message
	visit := func(it entry) bool {
		m := q.msgs.items[it.i]
		switch {
		case m.state == stClaimed && !p.IncludeClaimed,
			m.state == stDelayed && !p.IncludeDelayed,
			noEcho && m.clientID == p.ClientID:
			return true
		case !m.intact():
			bad = append(bad, m)
			return true
		}
		ms = append(ms, m)
		return len(ms) < p.Limit
	}
	tree := &q.all
	if !p.IncludeClaimed && !p.IncludeDelayed {
		tree = &q.ready // the free, visible messages: no skipping
	}
	if p.Marker.IsZero() {
		tree.Ascend(visit)
	} else {
		mk := keyOf(p.Marker)
		tree.AscendGreaterOrEqual(entry{k: mk}, func(it entry) bool {
			return it.k == mk || visit(it)
		})
	}
	out, err := records(ms)
	var a aside
	s.setAside(q, bad, now, &a)
	q.mu.Unlock()
	s.report(&a)
	return out, err
}

// GetMessages returns the stored messages among IDs, in the order asked,
// each once (M7).
func (s *Store) GetMessages(ctx context.Context, p store.GetMessagesParams) ([]store.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		return nil, err
	}
	ms := make([]*message, 0, len(p.IDs))
	var bad []*message
	var seen map[key]bool
	for _, id := range p.IDs {
		k := keyOf(id)
		if len(p.IDs) > 1 {
			if seen[k] {
				continue
			}
			if seen == nil {
				seen = make(map[key]bool, len(p.IDs))
			}
			seen[k] = true
		}
		if m := q.findMsg(k); m != nil {
			if !m.intact() {
				bad = append(bad, m)
				continue
			}
			ms = append(ms, m)
		}
	}
	out, err := records(ms)
	var a aside
	s.setAside(q, bad, now, &a)
	q.mu.Unlock()
	s.report(&a)
	return out, err
}

// DeleteMessages deletes messages, checking claims first as M8 says.
func (s *Store) DeleteMessages(ctx context.Context, p store.DeleteMessagesParams) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		if err == nil && !p.Claim.IsZero() && len(p.IDs) > 0 {
			return store.Gone(p.IDs[0], p.Claim) // no queue holds nothing
		}
		return err
	}
	if p.IgnoreClaims {
		for _, id := range p.IDs {
			if m := q.findMsg(keyOf(id)); m != nil {
				q.remove(m)
			}
		}
		q.mu.Unlock()
		return nil
	}
	var buf [16]*message
	found, err := q.deletable(buf[:0], p.IDs, p.Claim, nil)
	if err == nil {
		q.removeAll(found)
	}
	q.mu.Unlock()
	return err
}

// deletable appends to found the messages among ids that q holds and
// returns it, or the error of the first that fails the claim checks of M8
// against claim cid. Messages in gone (those earlier ops of a transaction
// delete) count as missing: skipped without a claim, ErrMessageGone with
// one (a claim settles only what it holds now). It changes nothing.
func (q *queue) deletable(found []*message, ids []store.ID, cid store.ID, gone map[*message]bool) ([]*message, error) {
	ck := keyOf(cid)
	var c *claim
	if !cid.IsZero() {
		c = q.findClaim(ck)
	}
	for _, id := range ids {
		k := keyOf(id)
		// The usual case, deleting what a claim holds, is found in the
		// claim without searching the queue.
		m := c.find(k)
		if m == nil {
			m = q.findMsg(k)
		}
		if m == nil || gone != nil && gone[m] {
			if !cid.IsZero() {
				return nil, store.Gone(id, cid)
			}
			continue
		}
		if err := checkClaim(m, cid, ck); err != nil {
			return nil, err
		}
		found = append(found, m)
	}
	return found, nil
}

// removeAll deletes the messages deletable found.
func (q *queue) removeAll(ms []*message) {
	for _, m := range ms {
		if m.state != stGone { // an ID may be given twice
			q.remove(m)
		}
	}
}

// checkClaim applies M8 to one message.
func checkClaim(m *message, cid store.ID, ck key) error {
	switch {
	case cid.IsZero():
		if m.claim != nil {
			return store.Errorf(store.ErrClaimMismatch, "message %s is under a claim; delete it with that claim", m.k.id())
		}
	case m.claim == nil:
		return store.NotClaimed(m.k.id(), cid)
	case m.claim.k != ck:
		return store.Errorf(store.ErrClaimMismatch, "message %s is under another claim than %s", m.k.id(), cid)
	}
	return nil
}

// PopMessages deletes and returns up to Limit of the oldest free, visible
// messages (M9).
func (s *Store) PopMessages(ctx context.Context, p store.PopParams) ([]store.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "pop limit"); err != nil {
		return nil, err
	}
	now := s.observe(p.Now)
	q, _, err := s.lockAt(p.Queue, now)
	if q == nil || err != nil {
		return nil, err
	}
	ms, bad := q.take(p.Limit)
	out, err := records(ms)
	if err != nil {
		q.untake(ms)
		q.untake(bad)
		q.mu.Unlock()
		return nil, err
	}
	for _, m := range ms {
		m.state = stGone
		q.remove(m)
	}
	var a aside
	s.setAside(q, bad, now, &a)
	q.mu.Unlock()
	s.report(&a)
	return out, nil
}

// take removes up to n of the oldest intact messages from ready, and
// the damaged ones it met before them (M11), also out of ready.
func (q *queue) take(n int) (ms, bad []*message) {
	if n = min(n, q.ready.Len()); n > 0 {
		ms = make([]*message, 0, n)
	}
	for len(ms) < n {
		it, ok := q.ready.DeleteMin()
		if !ok {
			break
		}
		m := q.msgs.items[it.i]
		if !m.intact() {
			bad = append(bad, m)
			continue
		}
		ms = append(ms, m)
	}
	return ms, bad
}

// untake puts messages back in ready.
func (q *queue) untake(ms []*message) {
	for _, m := range ms {
		q.ready.ReplaceOrInsert(m.byID())
	}
}
