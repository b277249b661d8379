package herald

import (
	"context"
	"errors"

	"github.com/heraldmq/herald/store"
)

// Tx collects posts and deletes on several queues for Service.Tx to apply
// as one atomic step (X1). Its methods only record; nothing happens until
// the function given to Service.Tx returns nil.
type Tx struct {
	s   *Service
	ops []store.TxOp
	err error
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

// DeleteClaimed adds a delete of messages held by c, as Claim.Delete: if
// c no longer holds one of them, the whole transaction fails.
func (tx *Tx) DeleteClaimed(c *Claim, ids ...ID) {
	q, err := c.live("delete")
	if err != nil {
		tx.fail(err)
		return
	}
	if tx.own(q) {
		tx.ops = append(tx.ops, store.TxOp{Queue: q.ref, Delete: ids, Claim: c.ID})
	}
}

func (tx *Tx) own(q *Queue) bool {
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
// a message, a body over the limits — nothing changes and the error says
// which step.
func (s *Service) Tx(ctx context.Context, build func(tx *Tx) error) ([][]ID, error) {
	if err := s.gate.enter(); err != nil {
		return nil, err
	}
	defer s.gate.leave()
	tx := &Tx{s: s}
	if err := build(tx); err != nil {
		return nil, err
	}
	if tx.err != nil {
		return nil, tx.err
	}
	t, err := s.transactor(tx.ops)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ids, err := t.Transact(ctx, store.TxParams{
		Ops:           tx.ops,
		DefaultTTL:    s.limits.DefaultMessageTTL,
		DedupWindow:   s.limits.DedupWindow,
		ConfirmedOnly: s.notify.o.RequireConfirmation,
		Now:           now,
	})
	if err != nil {
		return nil, err
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
// holds all their queues.
func (s *Service) transactor(ops []store.TxOp) (store.Transactor, error) {
	if len(ops) == 0 {
		return nil, store.Errorf(ErrInvalid, "transaction with no posts or deletes")
	}
	if err := s.limits.checkCount(len(ops), "transaction steps"); err != nil {
		return nil, err
	}
	var st store.Store
	for i, op := range ops {
		if err := s.checkOp(op); err != nil {
			return nil, store.OpError(i, err)
		}
		sti, err := s.storeFor(op.Queue)
		if err != nil {
			return nil, store.OpError(i, err)
		}
		if st == nil {
			st = sti
		} else if sti != st {
			return nil, store.OpError(i, store.Errorf(ErrCrossPool, "queue %q is in another pool", op.Queue.Name))
		}
	}
	t, ok := st.(store.Transactor)
	if !ok {
		return nil, store.Errorf(errors.ErrUnsupported, "store %T does not implement transactions", st)
	}
	return t, nil
}

func (s *Service) checkOp(op store.TxOp) error {
	if err := op.Check(); err != nil {
		return err
	}
	if len(op.Post) > 0 {
		return s.limits.checkDrafts(op.Post)
	}
	return s.limits.checkCount(len(op.Delete), "number of ids")
}
