package herald_test

// The reference model of DESIGN.md §2 that model_rapid_test.go checks the
// stores against (RELIABILITY.md suite 2). It is the spec, not an
// implementation: plain slices and maps, linear scans, no indexes, no
// laziness. Every rule it implements is cited where it is implemented.
//
// Time follows the store contract (store/params.go, memory and bolt alike):
// a message exists while Now < Expires (M4), a claim is live while
// Now < its expiry (C4), a delayed message is hidden while Now < VisibleAt
// (M5), a dedup entry counts while Now < its end (M10).
//
// IDs are store-assigned. The model keeps, per message and claim, the store
// ID it learned from the call that made it (Post returns IDs in input order,
// M1; Claim returns the claim ID). A dead-letter move (C6) makes a new ID
// that no call returns: the model gives the moved message a zero ID and the
// machine learns it from the dead-letter queue's listing.

import (
	"slices"
	"time"

	"github.com/heraldmq/herald"
)

// refKey names a queue of a project (T1).
type refKey struct{ project, name string }

func (k refKey) String() string { return k.project + "/" + k.name }

// refMsg is a stored message.
type refMsg struct {
	id        herald.ID // zero until learned (dead-letter moves)
	body      string
	client    string
	created   time.Time
	expires   time.Time
	visibleAt time.Time
	claim     *refClaim // the last claim that took it; live only if claim is
	count     int       // claim count (C6)
}

// refClaim is a claim grant (C1). It is live while not ended, before its
// expiry, and while it still holds a message (store.ClaimStore doc).
type refClaim struct {
	id      herald.ID
	queue   refKey
	ttl     time.Duration
	grace   time.Duration
	expires time.Time
	ended   bool // released
}

type refDedup struct {
	id    herald.ID
	until time.Time
}

// refQueue is one queue. msgs is in ID order: the order the store issued
// their IDs (M2), which is the order the model appended them.
type refQueue struct {
	msgs  []*refMsg
	dedup map[string]refDedup
	// The reserved metadata the model acts on (Q3, C6).
	maxClaims int
	dlq       string
	dlqTTL    time.Duration
}

// refModel is the whole service: its clock and its queues.
type refModel struct {
	now    time.Time
	queues map[refKey]*refQueue
}

func newRefModel(now time.Time) *refModel {
	return &refModel{now: now, queues: map[refKey]*refQueue{}}
}

// The defaults the model uses are DefaultLimits (limits.go).
var refLimits = herald.DefaultLimits()

func (m *refModel) queue(k refKey) *refQueue { return m.queues[k] }

// create makes a queue if missing (Q2) and reports whether it did.
func (m *refModel) create(k refKey) (*refQueue, bool) {
	if q := m.queues[k]; q != nil {
		return q, false
	}
	q := &refQueue{dedup: map[string]refDedup{}}
	m.queues[k] = q
	return q, true
}

// exists: M4, an expired message is invisible to every read at once (B4).
func (m *refModel) exists(msg *refMsg) bool { return m.now.Before(msg.expires) }

// live reports whether c is a live claim (C1, C4, store.ClaimStore doc).
func (m *refModel) live(c *refClaim) bool {
	if c == nil || c.ended || !m.now.Before(c.expires) {
		return false
	}
	q := m.queues[c.queue]
	if q == nil {
		return false
	}
	for _, msg := range q.msgs {
		if msg.claim == c && m.exists(msg) {
			return true
		}
	}
	return false
}

// claimOf returns the live claim holding msg, or nil.
func (m *refModel) claimOf(msg *refMsg) *refClaim {
	if m.live(msg.claim) {
		return msg.claim
	}
	return nil
}

// delayed: M5/C5, unclaimed and not yet visible.
func (m *refModel) delayed(msg *refMsg) bool {
	return m.claimOf(msg) == nil && m.now.Before(msg.visibleAt)
}

// free: claimable now (C1).
func (m *refModel) free(msg *refMsg) bool {
	return m.exists(msg) && m.claimOf(msg) == nil && !m.delayed(msg)
}

// stored returns the queue's unexpired messages in ID order.
func (m *refModel) stored(k refKey) []*refMsg {
	q := m.queues[k]
	if q == nil {
		return nil
	}
	var out []*refMsg
	for _, msg := range q.msgs {
		if m.exists(msg) {
			out = append(out, msg)
		}
	}
	return out
}

// find returns the unexpired message id of queue k, or nil.
func (m *refModel) find(k refKey, id herald.ID) *refMsg {
	for _, msg := range m.stored(k) {
		if msg.id == id {
			return msg
		}
	}
	return nil
}

func (m *refModel) remove(k refKey, gone *refMsg) {
	q := m.queues[k]
	for i, msg := range q.msgs {
		if msg == gone {
			q.msgs = append(q.msgs[:i:i], q.msgs[i+1:]...)
			return
		}
	}
}

// refDraft is a Draft as the model sees it.
type refDraft struct {
	body  string
	ttl   time.Duration
	delay time.Duration
	dedup string
}

// refPostSlot says what the store must return for one draft of a post:
// a new ID (fresh), an existing one (dedup hit, M10), or the ID of an
// earlier draft of the same batch (M10).
type refPostSlot struct {
	fresh bool
	same  int       // index of the earlier draft, when >= 0 and !fresh
	id    herald.ID // the deduplicated ID, when !fresh and same < 0
}

// post checks and applies a post (M1, M3, M4, M5, M10, Q2). The caller
// feeds the store's IDs to commit.
func (m *refModel) post(k refKey, ds []refDraft) (slots []refPostSlot, err error) {
	for _, d := range ds { // checkDrafts: each draft in order, TTL then delay
		if d.ttl != 0 && (d.ttl < refLimits.MinMessageTTL || d.ttl > refLimits.MaxMessageTTL) {
			return nil, herald.ErrInvalidTTL
		}
		if d.delay < 0 || d.delay > refLimits.MaxMessageDelay {
			return nil, herald.ErrInvalidDelay
		}
	}
	q := m.queues[k]
	first := map[string]int{}
	for i, d := range ds {
		s := refPostSlot{fresh: true, same: -1}
		if d.dedup != "" {
			if q != nil {
				if e, ok := q.dedup[d.dedup]; ok && m.now.Before(e.until) {
					s = refPostSlot{same: -1, id: e.id}
				}
			}
			if s.fresh {
				if j, ok := first[d.dedup]; ok {
					s = refPostSlot{same: j}
				} else {
					first[d.dedup] = i
				}
			}
		}
		slots = append(slots, s)
	}
	return slots, nil
}

// commitPost stores the fresh drafts of a post under the IDs the store gave.
func (m *refModel) commitPost(k refKey, client string, ds []refDraft, slots []refPostSlot, ids []herald.ID) {
	q, _ := m.create(k)
	for i, d := range ds {
		if !slots[i].fresh {
			continue
		}
		ttl := d.ttl
		if ttl == 0 {
			ttl = refLimits.DefaultMessageTTL // no _default_message_ttl set
		}
		q.msgs = append(q.msgs, &refMsg{
			id: ids[i], body: d.body, client: client,
			created: m.now, expires: m.now.Add(ttl), visibleAt: m.now.Add(d.delay),
		})
		if d.dedup != "" {
			q.dedup[d.dedup] = refDedup{id: ids[i], until: m.now.Add(refLimits.DedupWindow)}
		}
	}
}

// refListOpts mirror herald.ListOptions plus the handle's client ID.
type refListOpts struct {
	marker                 herald.ID
	limit                  int
	claimed, delayed, echo bool
	client                 string
}

// list is M6.
func (m *refModel) list(k refKey, o refListOpts) ([]*refMsg, error) {
	limit := o.limit
	if limit == 0 {
		limit = refLimits.DefaultPageSize
	}
	if limit < 1 || limit > refLimits.MaxMessagesPerCall {
		return nil, herald.ErrInvalidLimit
	}
	var out []*refMsg
	for _, msg := range m.stored(k) {
		switch {
		case !o.marker.IsZero() && msg.id.Compare(o.marker) <= 0,
			!o.claimed && m.claimOf(msg) != nil,
			!o.delayed && m.delayed(msg),
			o.client != "" && !o.echo && msg.client == o.client:
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, msg)
	}
	return out, nil
}

// get is M7: the messages asked for that exist, in the order asked, once.
func (m *refModel) get(k refKey, ids []herald.ID) ([]*refMsg, error) {
	if len(ids) < 1 || len(ids) > refLimits.MaxMessagesPerCall {
		return nil, herald.ErrInvalidLimit
	}
	if slices.Contains(ids, herald.ID{}) {
		return nil, herald.ErrInvalidID // the zero ID names nothing
	}
	var out []*refMsg
	seen := map[herald.ID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if msg := m.find(k, id); msg != nil {
			out = append(out, msg)
		}
	}
	return out, nil
}

// del is M8: with claim nil the plain Queue.Delete; with a claim ID (live or
// not) the delete through a Claim, a settle. It checks every named message
// first, in order, and fails whole. A settle needs every message held by
// that live claim now (C3: a fencing token), so a missing one fails it
// with ErrMessageGone, while a plain delete skips it.
func (m *refModel) del(k refKey, ids []herald.ID, cid herald.ID) error {
	if len(ids) < 1 || len(ids) > refLimits.MaxMessagesPerCall {
		return herald.ErrInvalidLimit
	}
	if slices.Contains(ids, herald.ID{}) {
		return herald.ErrInvalidID // the zero ID names nothing
	}
	var found []*refMsg
	for _, id := range ids {
		msg := m.find(k, id)
		if msg == nil {
			if !cid.IsZero() {
				return herald.ErrMessageGone // already deleted, expired or purged
			}
			continue // missing: deletes fine
		}
		c := m.claimOf(msg)
		switch {
		case cid.IsZero() && c != nil:
			return herald.ErrClaimMismatch
		case !cid.IsZero() && c == nil:
			return herald.ErrNotClaimed
		case !cid.IsZero() && c.id != cid:
			return herald.ErrClaimMismatch // C3: a stale ID never acts
		}
		found = append(found, msg)
	}
	for _, msg := range found {
		m.remove(k, msg)
	}
	return nil
}

// pop is M9.
func (m *refModel) pop(k refKey, n int) ([]*refMsg, error) {
	if n < 1 || n > refLimits.MaxMessagesPerCall {
		return nil, herald.ErrInvalidLimit
	}
	var out []*refMsg
	for _, msg := range m.stored(k) {
		if len(out) < n && m.free(msg) {
			out = append(out, msg)
		}
	}
	for _, msg := range out {
		m.remove(k, msg)
	}
	return out, nil
}

// claim is C1, C2 and C6. opts zero fields take the Limits defaults as
// herald.Queue.Claim does. It returns the claimed messages (the caller sets
// the claim's ID from the store's answer) and the queue the moved messages
// went to.
func (m *refModel) claim(k refKey, ttl, grace time.Duration, limit int) (c *refClaim, taken []*refMsg, moved int, dlq refKey, err error) {
	if ttl == 0 {
		ttl = refLimits.DefaultClaimTTL
	}
	if grace == 0 {
		grace = refLimits.DefaultClaimGrace
	}
	if limit == 0 {
		limit = refLimits.DefaultClaimLimit
	}
	switch {
	case ttl < refLimits.MinClaimTTL || ttl > refLimits.MaxClaimTTL, grace < 0 || grace > refLimits.MaxClaimGrace:
		return nil, nil, 0, dlq, herald.ErrInvalidTTL
	case limit < 1 || limit > refLimits.MaxMessagesPerCall:
		return nil, nil, 0, dlq, herald.ErrInvalidLimit
	}
	q := m.queues[k]
	if q == nil {
		return nil, nil, 0, dlq, nil
	}
	dl := q.maxClaims > 0 && q.dlq != "" && q.dlq != k.name
	dlq = refKey{k.project, q.dlq}
	var move []*refMsg
	for _, msg := range m.stored(k) {
		if len(taken) == limit {
			break
		}
		if !m.free(msg) {
			continue
		}
		if dl && msg.count >= q.maxClaims {
			move = append(move, msg)
			continue
		}
		taken = append(taken, msg)
	}
	if len(move) > 0 { // C6: same step, D created if missing
		d, _ := m.create(dlq)
		for _, msg := range move {
			m.remove(k, msg)
			moved := &refMsg{
				body: msg.body, client: msg.client, created: msg.created,
				expires: msg.expires, visibleAt: m.now,
			}
			if q.dlqTTL > 0 {
				moved.expires = m.now.Add(q.dlqTTL)
			}
			d.msgs = append(d.msgs, moved)
		}
	}
	if len(taken) == 0 {
		return nil, nil, len(move), dlq, nil
	}
	c = &refClaim{queue: k, ttl: ttl, grace: grace, expires: m.now.Add(ttl)}
	until := c.expires.Add(grace)
	for _, msg := range taken {
		msg.claim = c
		msg.count++
		if msg.expires.Before(until) { // C2
			msg.expires = until
		}
	}
	return c, taken, len(move), dlq, nil
}

// renew is C4 (and C2 again). The caller has resolved ttl and grace as the
// Claim handle does.
func (m *refModel) renew(c *refClaim, ttl, grace time.Duration) error {
	if ttl < refLimits.MinClaimTTL || ttl > refLimits.MaxClaimTTL {
		return herald.ErrInvalidTTL
	}
	if !m.live(c) {
		return herald.ErrClaimNotFound
	}
	c.ttl, c.grace, c.expires = ttl, grace, m.now.Add(ttl)
	until := c.expires.Add(grace)
	for _, msg := range m.stored(c.queue) {
		if msg.claim == c && msg.expires.Before(until) {
			msg.expires = until
		}
	}
	return nil
}

// release is C5.
func (m *refModel) release(c *refClaim, delay time.Duration) error {
	if delay < 0 || delay > refLimits.MaxMessageDelay {
		return herald.ErrInvalidDelay
	}
	if !m.live(c) {
		return nil // releasing an expired claim is a no-op
	}
	for _, msg := range m.stored(c.queue) {
		if msg.claim == c {
			msg.visibleAt = m.now.Add(delay)
		}
	}
	c.ended = true
	return nil
}

// refMeta is the reserved metadata the machine sets.
type refMeta struct {
	maxClaims int
	dlq       string
	dlqTTL    time.Duration
}

func (r refMeta) metadata() herald.Metadata {
	return herald.Metadata{}.WithOptions(herald.QueueOptions{
		MaxClaimCount: r.maxClaims, DeadLetterQueue: r.dlq, DeadLetterTTL: r.dlqTTL,
	})
}

// setMetadata is Q3 (validation, then ErrNotFound for a missing queue).
func (m *refModel) setMetadata(k refKey, r refMeta) error {
	if r.dlq == k.name {
		return herald.ErrInvalidMetadata // a queue cannot be its own DLQ
	}
	if r.dlqTTL != 0 && (r.dlqTTL < refLimits.MinMessageTTL || r.dlqTTL > refLimits.MaxMessageTTL) {
		return herald.ErrInvalidMetadata
	}
	q := m.queues[k]
	if q == nil {
		return herald.ErrNotFound
	}
	q.maxClaims, q.dlq, q.dlqTTL = r.maxClaims, r.dlq, r.dlqTTL
	return nil
}

// purge is Q6: messages go (their claims die with them), dedup stays.
func (m *refModel) purge(k refKey) {
	if q := m.queues[k]; q != nil {
		q.msgs = nil
	}
}

// deleteQueue is Q6: the queue goes with messages, claims and dedup.
func (m *refModel) deleteQueue(k refKey) { delete(m.queues, k) }

// refStats is Q5 as the model counts it.
type refStats struct {
	free, claimed, delayed, total int64
	oldest, newest                *refMsg
}

func (m *refModel) stats(k refKey) (refStats, error) {
	if m.queues[k] == nil {
		return refStats{}, herald.ErrNotFound
	}
	var s refStats
	for _, msg := range m.stored(k) {
		switch {
		case m.claimOf(msg) != nil:
			s.claimed++
		case m.delayed(msg):
			s.delayed++
		default:
			s.free++
		}
		s.total++
		if s.oldest == nil {
			s.oldest = msg
		}
		s.newest = msg
	}
	return s, nil
}

// deadlines lists every future instant at which the model's state changes
// by itself: message expiry, claim expiry, delay end, dedup end.
func (m *refModel) deadlines() []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if t.After(m.now) {
			out = append(out, t)
		}
	}
	for _, q := range m.queues {
		for _, msg := range q.msgs {
			add(msg.expires)
			add(msg.visibleAt)
			if msg.claim != nil && !msg.claim.ended {
				add(msg.claim.expires)
			}
		}
		for _, d := range q.dedup {
			add(d.until)
		}
	}
	return out
}
