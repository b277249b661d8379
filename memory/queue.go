package memory

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/heraldmq/herald/store"
)

// degree is the B-tree degree of the dedup indexes: nodes hold up to 2*degree-1
// items.
const degree = 32

// never is the due time of an empty index.
const never = math.MaxInt64

// key is an ID as two big-endian words, so comparing keys is two integer
// compares and sorts like store.ID.Compare.
type key struct{ hi, lo uint64 }

func keyOf(id store.ID) key {
	return key{binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])}
}

func (k key) id() store.ID {
	var id store.ID
	binary.BigEndian.PutUint64(id[:8], k.hi)
	binary.BigEndian.PutUint64(id[8:], k.lo)
	return id
}

func (k key) less(o key) bool { return k.hi < o.hi || k.hi == o.hi && k.lo < o.lo }

// Message states. Every stored message is in exactly one.
const (
	stReady   uint8 = iota + 1 // in ready: free and visible
	stDelayed                  // in delayed: free, visibleAt > now
	stClaimed                  // held by claim, in neither index
	stGone                     // deleted; only stale claim slots may point here
)

// message is a stored message. Times are Unix nanoseconds. It is in all and
// expiry while stored, and in ready or delayed as its state says.
type message struct {
	k         key
	body      []byte
	clientID  string
	created   int64
	expires   int64
	visibleAt int64
	claim     *claim // live claim holding it, when state == stClaimed
	count     int32  // claim count (C6)
	slot      int32  // index in claim.msgs while claimed
	sum       uint32 // CRC32C of body
	idx       uint32 // index in queue.msgs
	state     uint8
}

// claim is a live claim. msgs holds its messages in ID order; a slot is nil
// once its message left the claim (deleted or expired).
type claim struct {
	k       key
	ttl     int64
	grace   int64
	updated int64
	expires int64
	msgs    []*message
	held    int    // non-nil slots of msgs
	idx     uint32 // index in queue.cls
}

// dedup remembers a DedupID until expires (M10).
type dedup struct {
	key     string
	id      store.ID
	expires int64
	seq     uint64
}

// Index entries carry their sort keys inline, so comparisons touch only the
// index node, and name their record by its index in a slab rather than by
// pointer: leaves without pointers are not scanned by the garbage collector,
// and shifting entries within a node needs no write barriers. This matters:
// with pointers, claim-and-delete traffic at the front of the indexes spent
// most of its time in GC write barriers.
type dedupByTime struct {
	t   int64
	seq uint64
	d   *dedup
}

func (m *message) byID() entry          { return entry{k: m.k, i: m.idx} }
func (m *message) byTime(t int64) entry { return entry{t: t, k: m.k, i: m.idx} }
func (c *claim) byID() entry            { return entry{k: c.k, i: c.idx} }
func (c *claim) byTime(t int64) entry   { return entry{t: t, k: c.k, i: c.idx} }

// slab holds the records a queue's indexes name by index. Freed slots are
// reused; when the slab empties it gives its memory back.
type slab[T any] struct {
	items []*T
	free  []uint32
	live  int
}

func (s *slab[T]) put(p *T) uint32 {
	s.live++
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		s.items[i] = p
		return i
	}
	s.items = append(s.items, p)
	return uint32(len(s.items) - 1)
}

func (s *slab[T]) del(i uint32) {
	s.items[i] = nil
	s.live--
	if s.live == 0 {
		s.reset()
		return
	}
	s.free = append(s.free, i)
}

func (s *slab[T]) reset() {
	s.live = 0
	if cap(s.items) > 1024 {
		s.items, s.free = nil, nil
		return
	}
	clear(s.items)
	s.items, s.free = s.items[:0], s.free[:0]
}

func lessDedup(a, b *dedup) bool { return a.key < b.key }
func lessDedupByTime(a, b dedupByTime) bool {
	return a.t < b.t || a.t == b.t && a.seq < b.seq
}

// conf is a queue's metadata and its parsed options. It is immutable; a
// metadata change swaps the pointer.
type conf struct {
	meta json.RawMessage
	opts store.QueueOptions
}

// queue is one queue. ref, created and conf may be read without mu; the rest
// is guarded by mu.
type queue struct {
	ref     store.QueueRef
	created int64
	conf    atomic.Pointer[conf]

	mu sync.Mutex
	// dead is set when the queue has left the directory; a caller that
	// finds it set looks the queue up again.
	dead bool
	// now is the latest time the queue has advanced to.
	now int64
	// due is a lower bound of the earliest time in the due indexes
	// (claimExp, delayed, expiry, dedupExp): nothing is due before it.
	due int64
	// betweenSteps, if set (by tests only), runs while q.mu is released
	// between two steps of catching up.
	betweenSteps func()

	all      index // every stored message
	ready    index // stReady messages
	delayed  index // stDelayed messages by visibleAt
	expiry   index // every stored message by expires
	claims   index
	claimExp index         // claims by expires
	msgs     slab[message] // the records all and friends index
	cls      slab[claim]   // the records claims and claimExp index
	dedups   *btree.BTreeG[*dedup]
	dedupExp *btree.BTreeG[dedupByTime]
	dedupSeq uint64

	total, claimed, delayedN int64

	// nsubs counts the queue's subscriptions, expired ones too, so a post
	// to a queue with none skips the outbox without taking subMu. It is
	// written with both mu and Store.subMu held. subs, guarded by subMu,
	// holds them.
	nsubs int
	subs  *queueSubs

	// aside is what a claim set aside (damage.go), reported by
	// CreateClaim once it has let go of the lock.
	aside aside
}

func newQueue(ref store.QueueRef, c *conf, now int64) *queue {
	q := &queue{ref: ref, created: now, now: now, due: never}
	q.conf.Store(c)
	q.dedups = btree.NewG(degree, lessDedup)
	q.dedupExp = btree.NewG(degree, lessDedupByTime)
	return q
}

// catchUpBatch bounds the due items one critical section of a queue
// applies (B1): a queue far behind (a clock jump) is caught up in steps,
// with its lock released between them, so other callers of the queue are
// never held up by more than one step.
const catchUpBatch = 1000

// lockAt locks q at now (or its own later time, since time never goes
// backwards) with everything due by then applied, and returns that time.
// It applies at most catchUpBatch items per hold of q.mu, releasing the
// lock between steps. It reports false, with q unlocked, if q has left the
// directory (dead).
func (q *queue) lockAt(now int64) (int64, bool) {
	q.mu.Lock()
	for {
		if q.dead {
			q.mu.Unlock()
			return 0, false
		}
		if _, more := q.applyDue(now, catchUpBatch); !more {
			return q.now, true
		}
		q.mu.Unlock()
		q.released()
		q.mu.Lock()
	}
}

// released runs the betweenSteps test hook, if any: q.mu was released
// with due items left.
func (q *queue) released() {
	if q.betweenSteps != nil {
		q.betweenSteps()
	}
}

// catchUp applies everything due at now in q, in steps as lockAt does,
// and leaves q unlocked.
func (q *queue) catchUp(now int64) {
	if _, ok := q.lockAt(now); ok {
		q.mu.Unlock()
	}
}

// applyDue moves the queue to now (see at) and applies up to budget of what
// is due by then. It returns the budget left and whether due items are
// left. q.mu is held.
func (q *queue) applyDue(now int64, budget int) (int, bool) {
	now = q.at(now)
	if now < q.due {
		return budget, false
	}
	return q.runDue(now, budget, nil)
}

// at moves the queue's time to now unless it is later already, and returns
// the queue's time. It applies nothing.
func (q *queue) at(now int64) int64 {
	if now < q.now {
		return q.now
	}
	q.now = now
	return now
}

// runDue applies up to budget due items at now: claims end, delayed
// messages become ready, messages and dedup entries expire. Removals are
// counted in res when it is non-nil. It returns the budget left and
// whether due items are left.
func (q *queue) runDue(now int64, budget int, res *store.SweepResult) (int, bool) {
	for {
		it, ok := q.claimExp.Min()
		if !ok || it.t > now {
			break
		}
		if budget == 0 {
			return 0, true
		}
		budget--
		q.endClaim(q.cls.items[it.i], now)
		if res != nil {
			res.Claims++
		}
	}
	for {
		it, ok := q.delayed.Min()
		if !ok || it.t > now {
			break
		}
		if budget == 0 {
			return 0, true
		}
		budget--
		q.delayed.DeleteMin()
		q.delayedN--
		m := q.msgs.items[it.i]
		m.state = stReady
		q.ready.ReplaceOrInsert(m.byID())
	}
	for {
		it, ok := q.expiry.Min()
		if !ok || it.t > now {
			break
		}
		if budget == 0 {
			return 0, true
		}
		budget--
		q.expiry.DeleteMin()
		q.drop(q.msgs.items[it.i])
		if res != nil {
			res.Messages++
		}
	}
	for {
		it, ok := q.dedupExp.Min()
		if !ok || it.t > now {
			break
		}
		if budget == 0 {
			return 0, true
		}
		budget--
		q.dedupExp.DeleteMin()
		q.dedups.Delete(it.d)
		if res != nil {
			res.Dedup++
		}
	}
	q.resetDue()
	return budget, false
}

// resetDue sets due to the earliest time in the due indexes.
func (q *queue) resetDue() {
	due := int64(never)
	if it, ok := q.claimExp.Min(); ok && it.t < due {
		due = it.t
	}
	if it, ok := q.delayed.Min(); ok && it.t < due {
		due = it.t
	}
	if it, ok := q.expiry.Min(); ok && it.t < due {
		due = it.t
	}
	if it, ok := q.dedupExp.Min(); ok && it.t < due {
		due = it.t
	}
	q.due = due
}

// pending reports whether anything is due at now.
func (q *queue) pending(now int64) bool {
	if now < q.now {
		now = q.now
	}
	return now >= q.due
}

func (q *queue) noteDue(t int64) {
	if t < q.due {
		q.due = t
	}
}

// insert stores a new message in state stReady or stDelayed.
func (q *queue) insert(m *message) {
	m.idx = q.msgs.put(m)
	q.all.ReplaceOrInsert(m.byID())
	q.expiry.ReplaceOrInsert(m.byTime(m.expires))
	q.noteDue(m.expires)
	q.total++
	q.place(m)
}

// place puts an unclaimed message in ready or delayed by its visibleAt.
func (q *queue) place(m *message) {
	if m.visibleAt > q.now {
		m.state = stDelayed
		q.delayed.ReplaceOrInsert(m.byTime(m.visibleAt))
		q.delayedN++
		q.noteDue(m.visibleAt)
		return
	}
	m.state = stReady
	q.ready.ReplaceOrInsert(m.byID())
}

// remove deletes a stored message from every index.
func (q *queue) remove(m *message) {
	q.expiry.Delete(entry{t: m.expires, k: m.k})
	q.drop(m)
}

// drop deletes a stored message from every index but expiry.
func (q *queue) drop(m *message) {
	q.all.Delete(entry{k: m.k})
	switch m.state {
	case stReady:
		q.ready.Delete(entry{k: m.k})
	case stDelayed:
		q.delayed.Delete(entry{t: m.visibleAt, k: m.k})
		q.delayedN--
	case stClaimed:
		q.unhold(m)
	}
	m.state = stGone
	q.msgs.del(m.idx)
	q.total--
}

// unhold takes a claimed message out of its claim's slots.
func (q *queue) unhold(m *message) {
	c := m.claim
	c.msgs[m.slot] = nil
	c.held--
	m.claim = nil
	q.claimed--
	if c.held == 0 {
		// A claim that holds nothing is over: drop it now rather than
		// keep a record per claim until it expires.
		q.dropClaim(c)
	}
}

// dropClaim removes a claim from claims, claimExp and the slab. Its
// messages must have left it or be about to (endClaim).
func (q *queue) dropClaim(c *claim) {
	q.claimExp.Delete(entry{t: c.expires, k: c.k})
	q.claims.Delete(entry{k: c.k})
	q.cls.del(c.idx)
}

// setExpires moves a stored message in the expiry index.
func (q *queue) setExpires(m *message, t int64) {
	q.expiry.Delete(entry{t: m.expires, k: m.k})
	m.expires = t
	q.expiry.ReplaceOrInsert(m.byTime(t))
	q.noteDue(t)
}

// endClaim ends a claim: its messages go back to ready or delayed, and the
// claim leaves claims, claimExp and the slab.
func (q *queue) endClaim(c *claim, now int64) {
	for _, m := range c.msgs {
		if m == nil || m.claim != c {
			continue
		}
		m.claim = nil
		q.claimed--
		q.place(m)
	}
	c.msgs = nil
	c.held = 0
	q.dropClaim(c)
}

// extend applies C2 to a claim's messages: each that would expire before
// the claim's expiry plus grace now expires then.
func (q *queue) extend(c *claim) {
	until := store.AddNanos(c.expires, c.grace)
	for _, m := range c.msgs {
		if m != nil && m.claim == c && m.expires < until {
			q.setExpires(m, until)
		}
	}
}

// findMsg returns the stored message with key k, or nil.
func (q *queue) findMsg(k key) *message {
	it, ok := q.all.Get(entry{k: k})
	if !ok {
		return nil
	}
	return q.msgs.items[it.i]
}

// findClaim returns the live claim with key k, or nil.
func (q *queue) findClaim(k key) *claim {
	it, ok := q.claims.Get(entry{k: k})
	if !ok {
		return nil
	}
	return q.cls.items[it.i]
}

// nextReady is when a message may next become claimable: the first delay
// end or claim expiry, or zero.
func (q *queue) nextReady() time.Time {
	t := int64(never)
	if it, ok := q.delayed.Min(); ok {
		t = it.t
	}
	if it, ok := q.claimExp.Min(); ok && it.t < t {
		t = it.t
	}
	if t == never {
		return time.Time{}
	}
	return toTime(t)
}

// purge drops every message and claim; dedup entries stay (Q6).
func (q *queue) purge() {
	// Claims hold message pointers and messages hold claim pointers, but
	// all of them become garbage together.
	q.all.Clear()
	q.ready.Clear()
	q.delayed.Clear()
	q.expiry.Clear()
	q.claims.Clear()
	q.claimExp.Clear()
	q.msgs.reset()
	q.cls.reset()
	q.total, q.claimed, q.delayedN = 0, 0, 0
	q.resetDue()
}

// kill empties a queue that has left the directory.
func (q *queue) kill() {
	q.dead = true
	q.purge()
	q.dedups.Clear(false)
	q.dedupExp.Clear(false)
	q.due = never
}

// record returns m as a store.Message with a copy of its body in buf, or
// ErrCorrupt if the body fails its checksum (M11).
func (m *message) record(buf []byte) (store.Message, error) {
	body := buf[:len(m.body):len(m.body)]
	copy(body, m.body)
	if store.Checksum(body) != m.sum {
		return store.Message{}, store.Errorf(store.ErrCorrupt, "message %s: body checksum mismatch", m.k.id())
	}
	r := store.Message{
		ID:         m.k.id(),
		Body:       body,
		ClientID:   m.clientID,
		Created:    toTime(m.created),
		Expires:    toTime(m.expires),
		VisibleAt:  toTime(m.visibleAt),
		ClaimCount: int(m.count),
		Checksum:   m.sum,
	}
	if c := m.claim; c != nil {
		r.ClaimID = c.k.id()
		r.ClaimExpires = toTime(c.expires)
	}
	return r, nil
}

// records converts messages to store.Messages, copying all bodies into one
// allocation (each slice capped, so appending to one never touches the
// next).
func records(ms []*message) ([]store.Message, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	n := 0
	for _, m := range ms {
		n += len(m.body)
	}
	buf := make([]byte, n)
	out := make([]store.Message, len(ms))
	for i, m := range ms {
		r, err := m.record(buf)
		if err != nil {
			return nil, err
		}
		buf = buf[len(m.body):]
		out[i] = r
	}
	return out, nil
}

// toTime returns n as a time in the Local location, like time.Unix.
func toTime(n int64) time.Time { return time.Unix(0, n) }
