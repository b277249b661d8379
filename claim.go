package herald

import (
	"context"
	"time"

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
	// claim or delay ends; they do not poll.
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
}

// Queue returns the handle of the claim's queue.
func (c *Claim) Queue() *Queue { return c.q }

// ClaimByID returns a handle for acting on an existing claim by its ID (for
// example one received from another process) without reading it first.
// Its Messages are empty, its TTL zero (Renew then needs a ttl) and its
// Grace is Limits.DefaultClaimGrace. A stale ID never acts on a newer claim
// (C3): calls through it fail as Claim's methods say.
func (q *Queue) ClaimByID(id ID) *Claim {
	return &Claim{ID: id, Grace: q.s.limits.DefaultClaimGrace, q: q}
}

// live returns the claim's queue, or ErrClaimNotFound for a claim that
// found nothing (zero ID), was not made by a Queue, or is nil (ClaimOf
// outside a handler).
func (c *Claim) live(what string) (*Queue, error) {
	if c == nil || c.q == nil || c.ID.IsZero() {
		return nil, store.Errorf(ErrClaimNotFound, "%s through an empty claim", what)
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
		return store.Errorf(ErrInvalid, "claim wait %v: negative", o.Wait)
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
func (q *Queue) Claim(ctx context.Context, o ClaimOptions) (*Claim, error) {
	return q.claim(ctx, o, store.CreateClaimParams{})
}

// DeleteAndClaim deletes ids under this claim (M8, as Delete does) and
// claims the next batch as Queue.Claim does, in one store transaction: a
// consumer acknowledges what it handled and takes more for the cost of one
// durable write instead of two. If that transaction fails, nothing is
// deleted and nothing claimed. With o.Wait, a claim that finds nothing
// waits as Queue.Claim's does, and the delete has been committed before
// the wait: an error returned from the wait (ctx ending, ErrClosed, a
// later attempt failing) leaves it committed, and deleting the same ids
// again is harmless (M8). With no ids it is Queue.Claim.
//
// Every store must honour CreateClaimParams.Delete; storetest checks it.
func (c *Claim) DeleteAndClaim(ctx context.Context, o ClaimOptions, ids ...ID) (*Claim, error) {
	if len(ids) == 0 {
		if c == nil || c.q == nil {
			return nil, store.Errorf(ErrClaimNotFound, "claim through an empty claim")
		}
		return c.q.Claim(ctx, o)
	}
	q, err := c.live("delete")
	if err != nil {
		return nil, err
	}
	return q.claim(ctx, o, store.CreateClaimParams{Delete: ids, DeleteClaim: c.ID})
}

// claim is Queue.Claim with p's Delete, if any, done by the first attempt.
func (q *Queue) claim(ctx context.Context, o ClaimOptions, p store.CreateClaimParams) (*Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // before the store: a claim counts against _max_claim_count
	}
	if err := q.s.gate.enter(); err != nil {
		return nil, err
	}
	defer q.s.gate.leave()
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
		return q.tryClaim(ctx, p)
	}

	w := q.s.waiters
	w.join(q.ref)
	defer w.leave(q.ref)
	timeout := time.NewTimer(o.Wait)
	defer timeout.Stop()
	for {
		wake := w.channel(q.ref) // before trying, so no wake-up is missed
		c, err := q.tryClaim(ctx, p)
		if err != nil || len(c.Messages) > 0 {
			return c, err
		}
		p.Delete, p.DeleteClaim = nil, ID{} // committed
		select {
		case <-wake:
		case <-timeout.C:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.s.gate.done:
			return nil, ErrClosed
		}
	}
}

// tryClaim makes one claim attempt and arranges the wake-ups it implies.
// It finds the queue's pool afresh each time: a queue a waiting claimer
// found nowhere may have been placed since.
func (q *Queue) tryClaim(ctx context.Context, p store.CreateClaimParams) (*Claim, error) {
	e, err := q.entry(ctx)
	if err != nil {
		return nil, err
	}
	p.Now = q.s.now()
	r, err := e.pool.store.CreateClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	if r.DeadLettered > 0 {
		if q.s.router.single == nil {
			q.s.adoptDeadLetters(ctx, q.ref, e, r.DeadLetterQueue)
		}
		q.s.waiters.wake(store.QueueRef{Project: q.ref.Project, Name: r.DeadLetterQueue})
	}
	if len(r.Messages) == 0 {
		if !r.NextReady.IsZero() && q.s.waiters.has(q.ref) {
			q.s.sched.at(q.ref, r.NextReady)
		}
		return &Claim{q: q}, nil
	}
	q.wakeAt(r.Claim.Expires)
	return &Claim{
		ID: r.Claim.ID, Messages: r.Messages, TTL: r.Claim.TTL, Grace: r.Claim.Grace,
		Expires: r.Claim.Expires, q: q,
	}, nil
}

// wakeAt makes the scheduler wake the queue's sleepers at t, if it has any.
func (q *Queue) wakeAt(t time.Time) {
	if q.s.waiters.has(q.ref) {
		q.s.sched.at(q.ref, t)
	}
}

// GetClaim returns a live claim with the messages it still holds, or
// ErrClaimNotFound.
func (q *Queue) GetClaim(ctx context.Context, id ID) (*Claim, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.leave()
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
	defer q.s.gate.leave()
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
	q, err := c.live("release")
	if err != nil {
		return nil // nothing is held: releasing it is a no-op
	}
	st, err := q.begin(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.leave()
	if err := q.s.limits.checkDelay(delay); err != nil {
		return err
	}
	now := q.s.now()
	if err := q.s.limits.checkCount(len(ids), "a release", "ids"); len(ids) > 0 && err != nil {
		return err
	}
	if err := st.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q.ref, Claim: c.ID, Delay: delay, IDs: ids, Now: now}); err != nil {
		return err
	}
	if delay == 0 {
		q.s.waiters.wake(q.ref)
	} else {
		q.wakeAt(now.Add(delay))
	}
	return nil
}

// Delete deletes messages held by this claim (M8). If any of them is not
// under this live claim nothing is deleted: ErrNotClaimed if it is under no
// live claim (this one expired or was released), ErrClaimMismatch if
// another claim holds it now.
func (c *Claim) Delete(ctx context.Context, ids ...ID) error {
	q, err := c.live("delete")
	if err != nil {
		return err
	}
	return q.deleteMessages(ctx, ids, c.ID)
}
