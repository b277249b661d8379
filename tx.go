package herald

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/heraldmq/herald/store"
)

// Tx collects posts and deletes on several queues for Service.Tx to apply
// as one atomic step (X1). Its methods only record; nothing happens until
// the function given to Service.Tx returns nil.
type Tx struct {
	s   *Service
	ops []store.TxOp
	err error
	// settles are the DeleteClaimed steps, told to their claims once the
	// transaction commits.
	settles []txSettle
}

type txSettle struct {
	c   *Claim
	ids []ID
}

// Post adds a post of drafts to q; Service.Tx returns its IDs.
func (tx *Tx) Post(q *Queue, drafts ...Draft) {
	if tx.own(q) {
		tx.ops = append(tx.ops, store.TxOp{Queue: q.ref, Post: drafts, ClientID: q.clientID})
	}
}

// Delete adds a delete of messages that are under no live claim, as
// Queue.Delete.
func (tx *Tx) Delete(q *Queue, ids ...ID) {
	if tx.own(q) {
		tx.ops = append(tx.ops, store.TxOp{Queue: q.ref, Delete: ids})
	}
}

// DeleteClaimed adds a settle of messages held by c, as Claim.Delete: if
// c, live, does not hold every one of them when the transaction runs, the
// whole transaction fails and nothing is posted (C3), with
// ErrClaimMismatch, ErrNotClaimed or ErrMessageGone as Claim.Delete says.
// That holds for a message a newer claimant already settled after c's
// lease ended, and for a retry of this same transaction after it
// committed but its answer was lost: the retry fails with ErrMessageGone
// rather than post the output twice.
func (tx *Tx) DeleteClaimed(c *Claim, ids ...ID) {
	q, err := c.live("delete")
	if err != nil {
		tx.fail(err)
		return
	}
	if tx.own(q) {
		tx.ops = append(tx.ops, store.TxOp{Queue: q.ref, Delete: ids, Claim: c.ID})
		if c.settled != nil {
			tx.settles = append(tx.settles, txSettle{c, ids})
		}
	}
}

func (tx *Tx) own(q *Queue) bool {
	if q == nil {
		tx.fail(store.Errorf(ErrInvalid, "transaction step on a nil queue"))
		return false
	}
	if q.s != tx.s {
		tx.fail(store.Errorf(ErrInvalid, "queue %q belongs to another Service", q.ref.Name))
		return false
	}
	return true
}

func (tx *Tx) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// Tx runs build to collect posts and deletes, then applies them all or
// none as one atomic step (X1): a consumer deletes what it claimed and
// posts what it produced with no duplicate and no loss. It returns the IDs
// of each Post in the order they were added. If build returns an error,
// nothing is applied and Tx returns it. The queues must share a store
// (ErrCrossPool otherwise), and the store must implement
// store.Transactor (memory and bolt do; otherwise the error matches
// errors.ErrUnsupported). If any step fails — a claim that no longer holds
// a message (DeleteClaimed), a body over the limits — nothing changes and
// the error says which step. A Tx that settles under a claim is therefore
// safe to retry after an unknown outcome: if the first run committed, the
// retry fails with ErrMessageGone and posts nothing.
func (s *Service) Tx(ctx context.Context, build func(tx *Tx) error) ([][]ID, error) {
	return s.tx(ctx, build, false)
}

// tx is Tx. With pastLimit the queues its posts create are created
// whatever their project holds (L1): a give-up move to a missing
// dead-letter queue must not strand its message, any more than the
// store's own move (C6) does.
func (s *Service) tx(ctx context.Context, build func(tx *Tx) error, pastLimit bool) ([][]ID, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	if build == nil {
		return nil, store.Errorf(ErrInvalid, "transaction with a nil build func")
	}
	tx := &Tx{s: s}
	if err := build(tx); err != nil {
		return nil, err
	}
	if tx.err != nil {
		return nil, tx.err
	}
	t, held, err := s.transactor(ctx, tx.ops, pastLimit)
	if err != nil {
		return nil, err
	}
	quota := s.limits.quota()
	if pastLimit {
		quota.QueuesPerProject = 0
	}
	now := s.now()
	ids, err := t.Transact(ctx, store.TxParams{
		Ops:           tx.ops,
		DefaultTTL:    s.limits.DefaultMessageTTL,
		DedupWindow:   s.limits.DedupWindow,
		ConfirmedOnly: s.notify.o.RequireConfirmation,
		Quota:         quota,
		Now:           now,
	})
	for _, e := range held {
		s.unhold(e)
	}
	if err != nil {
		return nil, err
	}
	for _, st := range tx.settles {
		st.c.tell(st.ids)
	}
	posted := make([][]ID, 0, len(ids))
	for i, op := range tx.ops {
		if len(op.Post) > 0 {
			posted = append(posted, ids[i])
			s.posted(op.Queue, op.ClientID, op.Post, ids[i], now)
		}
	}
	return posted, nil
}

// transactor checks ops against the limits and finds the one store that
// holds all their queues (P5). A queue a post would create is placed
// first, on the pool of the transaction's other queues if any of them is
// placed. It returns the entries of the posted-to queues held (see hold):
// the caller unholds them after the transaction.
func (s *Service) transactor(ctx context.Context, ops []store.TxOp, pastLimit bool) (store.Transactor, []*entry, error) {
	if len(ops) == 0 {
		return nil, nil, store.Errorf(ErrInvalid, "transaction with no posts or deletes")
	}
	if err := s.limits.checkCount(len(ops), "a transaction", "steps"); err != nil {
		return nil, nil, err
	}
	for i, op := range ops {
		if err := s.checkOp(op); err != nil {
			return nil, nil, store.OpError(i, err)
		}
	}
	for {
		p, err := s.txPool(ctx, ops, pastLimit)
		if err != nil {
			return nil, nil, err
		}
		held, ok, err := s.holdPosts(ctx, ops, p)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue // a queue was deleted or placed meanwhile: again
		}
		t, ok := p.store.(store.Transactor)
		if !ok {
			for _, e := range held {
				s.unhold(e)
			}
			return nil, nil, store.Errorf(errors.ErrUnsupported, "store %T does not implement transactions", p.store)
		}
		return t, held, nil
	}
}

// txPool returns the pool of the placed queues of ops, or ErrCrossPool,
// placing the queues of posts that are placed nowhere on it. With no
// queue placed, the first post's queue is placed as a post would place
// it, and the rest join it.
func (s *Service) txPool(ctx context.Context, ops []store.TxOp, pastLimit bool) (*pool, error) {
	var p *pool
	var pi int
	for i, op := range ops {
		e, err := s.router.lookup(ctx, op.Queue)
		if err != nil {
			return nil, store.OpError(i, err)
		}
		if e == nowhere {
			continue
		}
		if p == nil {
			p, pi = e.pool, i
		} else if e.pool != p {
			return nil, crossPool(ops, i, e.pool, pi, p)
		}
	}
	if s.router.single != nil {
		return p, nil
	}
	for i, op := range ops {
		if len(op.Post) == 0 {
			continue
		}
		e, _, err := s.router.place(ctx, op.Queue, placement{on: p, pastLimit: pastLimit}, s.now)
		if err != nil {
			return nil, store.OpError(i, err)
		}
		if p == nil {
			p, pi = e.pool, i
		} else if e.pool != p { // placed elsewhere meanwhile
			return nil, crossPool(ops, i, e.pool, pi, p)
		}
	}
	if p == nil { // only deletes, on queues placed nowhere: they delete nothing
		p = nowhere.pool
	}
	return p, nil
}

// crossPool is the error of op i, on pool pool, in a transaction whose op
// first is on pool other (P5).
func crossPool(ops []store.TxOp, i int, pool *pool, first int, other *pool) error {
	return store.OpError(i, store.Errorf(ErrCrossPool, "queue %q is on pool %q, queue %q of op %d on pool %q",
		ops[i].Queue.Name, pool.name, ops[first].Queue.Name, first, other.name))
}

// holdPosts holds the entries of the queues ops post to, in (project,
// name) order so that two transactions never wait on each other. It
// reports false, holding nothing, if one of them is no longer placed on
// p.
func (s *Service) holdPosts(ctx context.Context, ops []store.TxOp, p *pool) ([]*entry, bool, error) {
	if s.router.single != nil {
		return nil, true, nil
	}
	var refs []store.QueueRef
	for _, op := range ops {
		if len(op.Post) > 0 && !slices.Contains(refs, op.Queue) {
			refs = append(refs, op.Queue)
		}
	}
	slices.SortFunc(refs, func(a, b store.QueueRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
	})
	held := make([]*entry, 0, len(refs))
	for _, ref := range refs {
		e, err := s.router.lookup(ctx, ref)
		if err == nil && e != nowhere {
			e.mu.RLock()
			if !e.gone.Load() && e.pool == p {
				held = append(held, e)
				continue
			}
			e.mu.RUnlock()
		}
		for _, h := range held {
			s.unhold(h)
		}
		return nil, false, err
	}
	return held, true, nil
}

func (s *Service) checkOp(op store.TxOp) error {
	if err := op.Check(); err != nil {
		return err
	}
	if len(op.Post) > 0 {
		return s.limits.checkDrafts(op.Post)
	}
	return s.limits.checkCount(len(op.Delete), "a delete", "ids")
}
