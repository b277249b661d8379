package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Transactor is an optional ability of a Store: Transact applies posts and
// deletes on several of its queues as one atomic step (X1), so a consumer
// can delete what it claimed and post what it produced with no duplicate
// and no loss. Find it by type assertion:
//
//	if t, ok := st.(store.Transactor); ok {
//		ids, err := t.Transact(ctx, p)
//		...
//	}
//
// The ops run in order and each sees the effects of those before it. Each
// behaves as its own method would (PostMessages: auto-create, dedup, size
// and TTL checks; DeleteMessages: the claim checks of M8), but the step
// applies whole or not at all: if any op fails, Transact returns that op's
// error wrapped by OpError and the store is as it was.
type Transactor interface {
	// Transact returns, per op, the IDs a post got (nil for a delete).
	Transact(ctx context.Context, p TxParams) ([][]ID, error)
}

// TxParams are the arguments of Transactor.Transact.
type TxParams struct {
	// Ops are the steps, at least one, each a post or a delete.
	Ops []TxOp
	// DefaultTTL and DedupWindow apply to every post as in PostParams.
	DefaultTTL  time.Duration
	DedupWindow time.Duration
	// ConfirmedOnly and Quota are as in PostParams: a post that would
	// create one queue too many fails the transaction whole.
	ConfirmedOnly bool
	Quota         Quota
	Now           time.Time
}

// TxOp is one step of a transaction: a post when Post is not empty, a
// delete when Delete is not empty; setting both, or neither, is
// ErrInvalid.
type TxOp struct {
	Queue QueueRef
	// Post and ClientID are as in PostParams.
	Post     []Draft
	ClientID string
	// Delete and Claim are as in DeleteMessagesParams: with Claim set
	// every named message must be held by that live claim, so one that is
	// gone (ErrMessageGone), or that an earlier op of the same
	// transaction deleted, fails the transaction.
	Delete []ID
	Claim  ID
}

// Check validates the shape of an op: its queue, that it is one post or
// one delete, and that a delete names no zero id. The op's contents are
// checked when it runs.
func (o TxOp) Check() error {
	if err := o.Queue.Check(); err != nil {
		return err
	}
	switch {
	case len(o.Post) > 0 && len(o.Delete) > 0:
		return Errorf(ErrInvalid, "transaction op on %q: both a post and a delete", o.Queue.Name)
	case len(o.Post) == 0 && len(o.Delete) == 0:
		return Errorf(ErrInvalid, "transaction op on %q: neither a post nor a delete", o.Queue.Name)
	case len(o.Post) > 0 && !o.Claim.IsZero():
		return Errorf(ErrInvalid, "transaction op on %q: a post with a claim", o.Queue.Name)
	}
	return CheckIDs("message id", o.Delete...)
}

// OpError says which op of a transaction failed; it matches what err
// matches.
func OpError(i int, err error) error { return &opError{i: i, err: err} }

type opError struct {
	i   int
	err error
}

func (e *opError) Error() string {
	return fmt.Sprintf("herald: transaction op %d: %s", e.i, strings.TrimPrefix(e.err.Error(), "herald: "))
}

func (e *opError) Unwrap() error { return e.err }
