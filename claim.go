package herald

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/heraldmq/herald/internal/wake"
	"github.com/heraldmq/herald/store"
)

// ClaimOptions shape a claim (C1, C2, C7). Zero fields take the Limits
// defaults.
type ClaimOptions struct {
	// TTL is how long the claim lives unless renewed. Default
	// Limits.DefaultClaimTTL (5 minutes).
	TTL time.Duration
	// Grace keeps claimed messages alive this long past the claim's expiry
	// (C2). Default Limits.DefaultClaimGrace (1 minute).
	Grace time.Duration
	// Limit is how many messages to take at most. Default
	// Limits.DefaultClaimLimit (10).
	Limit int
	// Wait, if positive, makes a claim that finds nothing wait up to this
	// long for a message to become claimable (C7). Waiting claimers are
	// woken in-process when a message is posted or released, or when a
	// claim or delay ends; they do not poll. They are served oldest
	// first, and only as many are woken as can take what became
	// claimable: a post of one message wakes one of them.
	Wait time.Duration
}

// Claim is a lease on messages (C1). While it is live no other claim, pop or
// plain listing gets its messages; delete them through it when done. A
// Claim with no messages is what a claim that found nothing returns: it has
// a zero ID and its methods return ErrClaimNotFound. A Claim is not safe for
// concurrent Renew calls.
type Claim struct {
	ID       ID
	Messages []Message
	TTL      time.Duration
	Grace    time.Duration
	// Expires is when the claim ends unless renewed.
	Expires time.Time
	q       *Queue
	// byID marks a handle made by ClaimByID: a zero ID there is the
	// caller's bad input (ErrInvalidID), not a claim that found nothing.
	byID bool
	// settled, if set, is told the IDs a settle through this handle
	// deleted: ClaimOf's copy tells Consume, which then does not settle
	// them again (a second settle would fail, C3).
	settled func(ids []ID)
}

// Queue returns the handle of the claim's queue.
func (c *Claim) Queue() *Queue { return c.q }

// ClaimByID returns a handle for acting on an existing claim by its ID (for
// example one received from another process) without reading it first.
// Its Messages are empty, its TTL zero (Renew then needs a ttl) and its
// Grace is Limits.DefaultClaimGrace. A zero id names no claim: calls
// through its handle give ErrInvalidID. A stale ID never acts on a newer claim
// (C3): calls through it fail as Claim's methods say.
func (q *Queue) ClaimByID(id ID) *Claim {
	return &Claim{ID: id, Grace: q.s.limits.DefaultClaimGrace, q: q, byID: true}
}

// live returns the claim's queue, or ErrClaimNotFound for a claim that
// found nothing (zero ID), was not made by a Queue, or is nil (ClaimOf
// outside a handler), or ErrInvalidID for ClaimByID of the zero ID.
func (c *Claim) live(what string) (*Queue, error) {
	if c == nil {
		return nil, store.Errorf(ErrClaimNotFound, "%s through a nil claim (ClaimOf outside a Consume handler?)", what)
	}
	if c.byID && c.ID.IsZero() {
		return nil, store.CheckIDs("claim id", c.ID)
	}
	if c.q == nil || c.ID.IsZero() {
		return nil, store.Errorf(ErrClaimNotFound, "%s through an empty claim: one that found no messages holds none", what)
	}
	return c.q, nil
}

func (l *Limits) resolveClaim(o *ClaimOptions) error {
	if o.TTL == 0 {
		o.TTL = l.DefaultClaimTTL
	}
	if o.Grace == 0 {
		o.Grace = l.DefaultClaimGrace
	}
	if o.Limit == 0 {
		o.Limit = l.DefaultClaimLimit
	}
	if err := l.checkClaimTTL(o.TTL); err != nil {
		return err
	}
	if !between(o.Grace, 0, l.MaxClaimGrace) {
		return store.Errorf(ErrInvalidTTL, "claim grace must be 0 to %v, got %v", l.MaxClaimGrace, o.Grace)
	}
	if o.Wait < 0 {
		return store.Errorf(ErrInvalidTTL, "claim wait %v: negative", o.Wait)
	}
	return l.checkCount(o.Limit, "claim limit", "")
}

func (l *Limits) checkClaimTTL(ttl time.Duration) error {
	if !between(ttl, l.MinClaimTTL, l.MaxClaimTTL) {
		return store.Errorf(ErrInvalidTTL, "claim ttl must be %v to %v, got %v", l.MinClaimTTL, l.MaxClaimTTL, ttl)
	}
	return nil
}

// Claim claims up to o.Limit of the oldest free messages (C1). If none is
// free it returns a Claim with no messages at once, or, with o.Wait, waits
// for one (C7); a wait that ends empty-handed is not an error, but ctx
// ending is. Messages claimed too often move to the dead-letter queue
// instead (C6).
//
// Each move is logged (Options.Logger) with the message's ID, its claim
// count and the dead-letter queue.
func (q *Queue) Claim(ctx context.Context, o ClaimOptions) (*Claim, error) {
	return q.claim(ctx, o, store.CreateClaimParams{}, nil, q.s.log)
}

// DeleteAndClaim deletes ids under this claim (M8, as Delete does) and
// claims the next batch as Queue.Claim does, in one store transaction: a
// consumer acknowledges what it handled and takes more for the cost of one
// durable write instead of two. If that transaction fails, nothing is
// deleted and nothing claimed; as with Delete, every id must be held by
// this live claim, so a stale claim, or a message already gone (a retry
// of a call that succeeded included), fails it with ErrNotClaimed,
// ErrClaimMismatch or ErrMessageGone. With o.Wait, a claim that finds
// nothing waits as Queue.Claim's does, and the delete has been committed
// before the wait: an error returned from the wait (ctx ending, ErrClosed,
// a later attempt failing) leaves it committed, and deleting the same ids
// again fails with ErrMessageGone (without a claim, through Queue.Delete,
// it is a no-op). With no ids it is Queue.Claim.
//
// Every store must honour CreateClaimParams.Delete; storetest checks it.
func (c *Claim) DeleteAndClaim(ctx context.Context, o ClaimOptions, ids ...ID) (*Claim, error) {
	if len(ids) == 0 {
		if c == nil || c.q == nil || c.byID && c.ID.IsZero() {
			_, err := c.live("claim")
			return nil, err
		}
		return c.q.Claim(ctx, o)
	}
	q, err := c.live("delete")
	if err != nil {
		return nil, err
	}
	if err := store.CheckIDs("message id", ids...); err != nil {
		return nil, err
	}
	return q.claim(ctx, o, store.CreateClaimParams{Delete: ids, DeleteClaim: c.ID}, c, q.s.log)
}

// claim is Queue.Claim with p's Delete, if any, done by the first attempt
// and, once committed, told to from (see Claim.settled); dead-letter moves
// are logged to log.
func (q *Queue) claim(ctx context.Context, o ClaimOptions, p store.CreateClaimParams, from *Claim, log *slog.Logger) (*Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // before the store: a claim counts against _max_claim_count
	}
	if err := q.s.gate.Enter(); err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if err := q.ref.Check(); err != nil {
		return nil, err
	}
	if err := q.s.limits.resolveClaim(&o); err != nil {
		return nil, err
	}
	if len(p.Delete) > 0 {
		if err := q.s.limits.checkCount(len(p.Delete), "a delete", "ids"); err != nil {
			return nil, err
		}
	}
	p.Queue, p.TTL, p.Grace, p.Limit = q.ref, o.TTL, o.Grace, o.Limit
	if o.Wait == 0 {
		c, err := q.tryClaim(ctx, p, log)
		if err == nil && from != nil {
			from.tell(p.Delete)
		}
		return c, err
	}

	ws := q.s.waiters
	w := ws.Join(q.ref, o.Limit) // before trying, so no wake-up is missed
	var held wake.Token          // a token this claimer got and has not served
	defer func() { ws.Leave(w, held) }()
	timeout := time.NewTimer(o.Wait)
	defer timeout.Stop()
	for {
		c, err := q.tryClaim(ctx, p, log)
		if err != nil {
			return nil, err // leave passes held on
		}
		if from != nil && len(p.Delete) > 0 {
			from.tell(p.Delete)
		}
		got := len(c.Messages) > 0
		switch {
		case !got, held.Count() == 0:
			held = wake.Token{} // served; a relay goes on only past a claim that got some
		case held.Count() > 0 && len(c.Messages) < held.Count():
			// Fewer than the wake was for: the rest may be delayed (a
			// post's delay, learned only by a claim that finds nothing,
			// NextReady) or taken by others. Hand on a relay, so that
			// someone finds nothing and the scheduler learns the deadline.
			held = wake.Relay
		case held.Count() > 0:
			held = wake.Token{} // its share taken
		}
		if got {
			return c, nil
		}
		p.Delete, p.DeleteClaim = nil, ID{} // committed
		if !ws.Sleep(w) {
			continue
		}
		select {
		case held = <-w.C():
			if ws.Woken != nil {
				ws.Woken(ctx)
			}
			if err := ctx.Err(); err != nil {
				return nil, err // before the store: leave passes the token on
			}
		case <-timeout.C:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.s.gate.Done():
			return nil, ErrClosed
		}
	}
}

// tryClaim makes one claim attempt and arranges the wake-ups it implies.
// It finds the queue's pool afresh each time: a queue a waiting claimer
// found nowhere may have been placed since.
func (q *Queue) tryClaim(ctx context.Context, p store.CreateClaimParams, log *slog.Logger) (*Claim, error) {
	e, err := q.entry(ctx)
	if err != nil {
		return nil, err
	}
	p.Now = q.s.now()
	r, err := e.pool.store.CreateClaim(ctx, p)
	q.s.placeAside(ctx)
	if err != nil {
		return nil, err
	}
	if r.DeadLettered > 0 {
		if q.s.router.single == nil {
			// The move is committed: record the queue's pool even if
			// the caller gave up meanwhile.
			q.s.adoptDeadLetters(context.WithoutCancel(ctx), q.ref, e, r.DeadLetterQueue)
		}
		q.s.waiters.Wake(store.QueueRef{Project: q.ref.Project, Name: r.DeadLetterQueue}, r.DeadLettered)
		q.logDeadLetters(log, &r)
	}
	if len(r.Messages) == 0 {
		if !r.NextReady.IsZero() && q.s.waiters.Has(q.ref) {
			q.s.sched.At(q.ref, r.NextReady)
		}
		return &Claim{q: q}, nil
	}
	q.wakeAt(r.Claim.Expires)
	return &Claim{
		ID: r.Claim.ID, Messages: r.Messages, TTL: r.Claim.TTL, Grace: r.Claim.Grace,
		Expires: r.Claim.Expires, q: q,
	}, nil
}

// logDeadLetters logs the C6 moves of a claim. The store made them, so
// no handler error is known here: the message's last claim ended without
// one being reported (Consume moves a message itself when its last
// attempt fails, and logs that error).
func (q *Queue) logDeadLetters(log *slog.Logger, r *store.ClaimResult) {
	const msg = "herald: message moved to the dead-letter queue: claimed _max_claim_count times (C6)"
	if len(r.DeadLetters) == 0 { // a store that does not name them
		log.Warn(msg, "queue", q.ref.Name, "messages", r.DeadLettered, "dead_letter_queue", r.DeadLetterQueue)
		return
	}
	for _, d := range r.DeadLetters {
		log.Warn(msg, "queue", q.ref.Name, "message", d.ID, "attempts", d.ClaimCount,
			"dead_letter_queue", r.DeadLetterQueue, "dead_letter_id", d.NewID)
	}
}

// wakeAt makes the scheduler wake the queue's sleepers at t, if it has any.
func (q *Queue) wakeAt(t time.Time) {
	if q.s.waiters.Has(q.ref) {
		q.s.sched.At(q.ref, t)
	}
}

// GetClaim returns a live claim with the messages it still holds, or
// ErrClaimNotFound.
func (q *Queue) GetClaim(ctx context.Context, id ID) (*Claim, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if err := store.CheckIDs("claim id", id); err != nil {
		return nil, err
	}
	defer q.s.placeAside(ctx)
	info, msgs, err := st.GetClaim(ctx, store.GetClaimParams{Queue: q.ref, Claim: id, Now: q.s.now()})
	if err != nil {
		return nil, err
	}
	return &Claim{ID: info.ID, Messages: msgs, TTL: info.TTL, Grace: info.Grace, Expires: info.Expires, q: q}, nil
}

// Renew makes the claim live for ttl from now, keeping its grace, and
// extends its messages again (C4). Zero ttl means the claim's current TTL.
// An expired claim gives ErrClaimNotFound: its messages may already be
// someone else's.
func (c *Claim) Renew(ctx context.Context, ttl time.Duration) error {
	q, err := c.live("renew")
	if err != nil {
		return err
	}
	if ttl == 0 {
		ttl = c.TTL
	}
	st, err := q.begin(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := q.s.limits.checkClaimTTL(ttl); err != nil {
		return err
	}
	info, err := st.RenewClaim(ctx, store.RenewClaimParams{
		Queue: q.ref, Claim: c.ID, TTL: ttl, Grace: c.Grace, Now: q.s.now(),
	})
	if err != nil {
		return err
	}
	c.TTL, c.Expires = info.TTL, info.Expires
	q.wakeAt(info.Expires)
	return nil
}

// Release ends the claim; its messages become claimable after delay, at
// once if delay is zero (C5). With ids it frees only those of its messages
// and keeps the rest (ids it does not hold are skipped); it ends once it
// holds none. Releasing an expired claim does nothing.
func (c *Claim) Release(ctx context.Context, delay time.Duration, ids ...ID) error {
	return c.release(ctx, delay, false, ids)
}

// release is Release; unstarted gives back the claim count the claim
// added to each message it frees (J1).
func (c *Claim) release(ctx context.Context, delay time.Duration, unstarted bool, ids []ID) error {
	q, err := c.live("release")
	if errors.Is(err, ErrInvalidID) {
		return err
	}
	if err != nil {
		return nil // nothing is held: releasing it is a no-op
	}
	st, err := q.begin(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := q.s.limits.checkDelay(delay); err != nil {
		return err
	}
	now := q.s.now()
	if err := q.s.limits.checkCount(len(ids), "a release", "ids"); len(ids) > 0 && err != nil {
		return err
	}
	if err := store.CheckIDs("message id", ids...); err != nil {
		return err
	}
	if err := st.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q.ref, Claim: c.ID, Delay: delay, IDs: ids, Unstarted: unstarted, Now: now}); err != nil {
		return err
	}
	if delay == 0 {
		q.s.waiters.Wake(q.ref, c.freed(ids))
	} else {
		q.wakeAt(now.Add(delay))
	}
	return nil
}

// freed is at least how many messages a release of ids (all if none)
// frees, or -1 if the claim does not know (ClaimByID).
func (c *Claim) freed(ids []ID) int {
	switch {
	case len(ids) > 0:
		return len(ids)
	case len(c.Messages) > 0:
		return len(c.Messages)
	}
	return -1
}

// Delete settles messages held by this claim: it deletes them (M8) if
// every one is held by this live claim now. Claim IDs are fencing tokens
// (C3): if any is not, nothing is deleted and the error says why:
// ErrClaimMismatch if another claim holds it now, ErrNotClaimed if it is
// under no live claim (this one expired or was released), and
// ErrMessageGone, a child of ErrNotClaimed, if it no longer exists
// (deleted by a newer claimant or by hand, expired, purged). So a
// consumer whose lease ended learns it even when someone else already
// finished the work.
//
// A retry of a Delete that succeeded (say, after its answer was lost)
// also fails with ErrMessageGone, on purpose: the work is done, but the
// claim cannot tell a lost answer from a takeover, and a transaction that
// settled and posted its output must not post it again (see Tx). Treat
// ErrMessageGone as "settled already, by whoever": do not redo the work
// for it. Queue.Delete (no claim) skips missing messages instead.
func (c *Claim) Delete(ctx context.Context, ids ...ID) error {
	q, err := c.live("delete")
	if err != nil {
		return err
	}
	if err := q.deleteMessages(ctx, ids, c.ID); err != nil {
		return err
	}
	c.tell(ids)
	return nil
}

// tell passes ids, just settled through c, to c.settled if set.
func (c *Claim) tell(ids []ID) {
	if c.settled != nil {
		c.settled(ids)
	}
}
