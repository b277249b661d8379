package wake

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"

	"github.com/heraldmq/herald/store"
)

// Waiters lets blocked claimers sleep until their queue may have something
// for them (C7), and wakes only as many of them as can take what became
// claimable, oldest sleeper first: waking every sleeper on every post made
// each one retry a claim transaction, so posts slowed with the number of
// sleepers.
//
// A wake carries the number of messages that became claimable, or says
// the number is unknown (the scheduler's claim expiries and delay ends,
// B2). A wake for n pops sleepers from the head of the queue until their
// claim limits cover n; each gets a token and tries the store once. A
// token with an unknown count is a relay: its holder, if it claims
// something, hands it to the next sleeper, so the relay runs until a
// claim finds nothing (which also learns the queue's next deadline,
// NextReady, for the scheduler) or no one sleeps.
//
// No wake-up is lost:
//   - a claimer joins the queue before its first try, so a wake between
//     that try and its sleep reaches it;
//   - a woken claimer is out of the queue while it tries; a wake that finds
//     no sleeper then bumps missed, and a claimer whose try found nothing
//     tries again, instead of sleeping, if missed moved since it left;
//   - a claimer that leaves holding a token it has not served (ctx ended,
//     Wait ran out, Close, a failed try, or a token that came while its
//     successful try ran) passes the token on.
//
// Why a served count token needs no hand-on: a claimer woken for n with
// limit L either takes L messages, its whole share, or finds fewer than L
// claimable and takes them all, leaving none at that instant; a later
// change wakes someone itself. Except a delay ending: a post's delayed
// messages are counted in its wake, and their deadline reaches the
// scheduler only through a claim that finds nothing (NextReady). So a
// claimer that takes less than its token's count hands on a relay
// instead, which runs until a claim finds nothing.
type Waiters struct {
	count atomic.Int64 // claimers blocked anywhere: skips the lock when 0
	mu    sync.Mutex
	byRef map[store.QueueRef]*waitQueue
	// Woken, if set, runs in a claimer that got a token, before it checks
	// its ctx and tries the store (tests).
	Woken func(context.Context)
}

// waitQueue is one queue's blocked claimers.
type waitQueue struct {
	sleepers list.List // of *Waiter, oldest first (by seq)
	members  int       // joined and not left: asleep or trying
	missed   uint64    // wakes, or parts of wakes, that found no sleeper
	seq      uint64    // the next joiner's number
}

// Waiter is one blocked claimer.
type Waiter struct {
	q      *waitQueue
	ref    store.QueueRef
	limit  int
	seq    uint64
	ch     chan Token    // holds at most one token: it is sent only on a pop
	elem   *list.Element // set while in q.sleepers
	missed uint64        // q.missed when it last left q.sleepers
}

// Token is a token: n messages became claimable, or (n < 0) an unknown
// number. The zero wake is no token.
type Token struct{ n int }

func (t Token) none() bool { return t.n == 0 }

// Count is how many messages t is for: 0 for no token, < 0 unknown.
func (t Token) Count() int { return t.n }

// Relay is the token of a wake with an unknown count.
var Relay = Token{n: -1}

// New returns an empty set of waiters.
func New() *Waiters {
	return &Waiters{byRef: make(map[store.QueueRef]*waitQueue)}
}

// Join registers a claimer of up to limit messages on ref, as the newest
// sleeper: it is woken from now on, even while it makes its first try.
func (ws *Waiters) Join(ref store.QueueRef, limit int) *Waiter {
	ws.count.Add(1)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	q := ws.byRef[ref]
	if q == nil {
		q = &waitQueue{}
		ws.byRef[ref] = q
	}
	q.members++
	q.seq++
	w := &Waiter{q: q, ref: ref, limit: max(limit, 1), seq: q.seq, ch: make(chan Token, 1)}
	w.elem = q.sleepers.PushBack(w)
	return w
}

// Sleep puts w back among the sleepers after a try that found nothing. It
// returns false if w must try again at once: a wake found no sleeper while
// w was out trying, so what it was for may have come after w's try.
func (ws *Waiters) Sleep(w *Waiter) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w.elem != nil || len(w.ch) > 0 {
		return true // still queued, or a token is waiting for it
	}
	if w.q.missed != w.missed {
		w.missed = w.q.missed
		return false
	}
	// Back in its place by age: it was at or near the head when woken.
	at := w.q.sleepers.Front()
	for at != nil && at.Value.(*Waiter).seq < w.seq {
		at = at.Next()
	}
	if at == nil {
		w.elem = w.q.sleepers.PushBack(w)
	} else {
		w.elem = w.q.sleepers.InsertBefore(w, at)
	}
	return true
}

// Leave unregisters w. held is a token w received and has not served (or
// a relay it must hand on); it goes to the next sleepers, as does a token
// sent to w that it never received.
func (ws *Waiters) Leave(w *Waiter, held Token) {
	ws.mu.Lock()
	if w.elem != nil {
		w.q.sleepers.Remove(w.elem)
		w.elem = nil
	}
	select {
	case t := <-w.ch:
		ws.deliver(w.q, t)
	default:
	}
	if !held.none() {
		ws.deliver(w.q, held)
	}
	if w.q.members--; w.q.members == 0 {
		delete(ws.byRef, w.ref)
	}
	ws.mu.Unlock()
	ws.count.Add(-1)
}

// Has reports whether any claimer waits on ref.
func (ws *Waiters) Has(ref store.QueueRef) bool {
	if ws.count.Load() == 0 {
		return false
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.byRef[ref] != nil
}

// Wake tells ref's sleepers that n messages became claimable there, or,
// with n < 0, an unknown number.
func (ws *Waiters) Wake(ref store.QueueRef, n int) {
	if n == 0 || ws.count.Load() == 0 {
		return
	}
	ws.mu.Lock()
	if q := ws.byRef[ref]; q != nil {
		ws.deliver(q, Token{n: n})
	}
	ws.mu.Unlock()
}

// WakeAll is the scheduler's wake (B2): it cannot know how many messages
// a claim expiry or a delay end freed.
func (ws *Waiters) WakeAll(ref store.QueueRef) { ws.Wake(ref, -1) }

// deliver hands token t to the oldest sleepers of q. ws.mu is held.
func (ws *Waiters) deliver(q *waitQueue, t Token) {
	if t.n < 0 {
		ws.pop(q, Relay)
		return
	}
	for n := t.n; n > 0; {
		w := ws.pop(q, Token{n: 0}) // its share is set below
		if w == nil {
			return
		}
		w.ch <- Token{n: min(n, w.limit)}
		n -= w.limit
	}
}

// pop takes the oldest sleeper of q and sends it t, unless t is the zero
// token (the caller sends it). With no sleeper it records the miss.
func (ws *Waiters) pop(q *waitQueue, t Token) *Waiter {
	front := q.sleepers.Front()
	if front == nil {
		q.missed++
		return nil
	}
	w := q.sleepers.Remove(front).(*Waiter)
	w.elem = nil
	w.missed = q.missed
	if !t.none() {
		w.ch <- t
	}
	return w
}

// C is the channel w's tokens arrive on while it sleeps.
func (w *Waiter) C() <-chan Token { return w.ch }

// Sleepers reports how many claimers sleep on ref (claimers out trying the
// store are not counted), for tests.
func (ws *Waiters) Sleepers(ref store.QueueRef) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if q := ws.byRef[ref]; q != nil {
		return q.sleepers.Len()
	}
	return 0
}
