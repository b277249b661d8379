package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// Catching up (B1). A write applies what fell due in its queue at its Now
// (claims end, delays end, messages and dedup entries expire) before it
// acts, but one write transaction applies at most catchUpBatch due items,
// summed over the ops of its batch, so that a queue far behind (a clock
// jump, a long outage) never holds a commit, and every writer sharing or
// waiting for it, for longer than one bounded step.
//
// Ops that read a queue's state (claim, delete, pop, renew, release) need
// everything due applied. When more is due than the transaction has budget
// left for, the op changes nothing and fails with a *behindError; its
// batch rolls back the op alone, as for any failed op (commit.go), and
// Store.update then applies the queue's due items in catch-up ops of their
// own, each one bounded share of a normal group commit, before it runs the
// op again. Ops that only add to a queue (post, the dead-letter move of a
// claim) are right on a queue that is behind, so they apply what the budget
// allows and go on.

// catchUpBatch bounds the due items one write transaction applies.
const catchUpBatch = 1000

// behindError is how an op says that queue ref has more due at now than
// its transaction may apply. It never reaches a caller of the Store.
type behindError struct {
	ref store.QueueRef
	now int64
}

func (e *behindError) Error() string {
	return fmt.Sprintf("herald: queue %q in project %q is behind at %d", e.ref.Name, e.ref.Project, e.now)
}

// advance applies everything due at now in q, or, when that is more than
// the transaction's budget has left, changes nothing and returns a
// *behindError.
func (w *wtx) advance(q *wq, now int64) error {
	if now < q.due {
		return nil
	}
	if q.dueCount(now, w.dueLeft+1) > w.dueLeft {
		return &behindError{ref: q.ref, now: now}
	}
	more, err := w.applyDue(q, now)
	if err == nil && more { // runDue applies no more than dueCount saw
		err = &behindError{ref: q.ref, now: now}
	}
	return err
}

// advanceSome applies what is due at now in q as far as the transaction's
// budget goes, for ops that are right on a queue that is behind.
func (w *wtx) advanceSome(q *wq, now int64) error {
	if now < q.due {
		return nil
	}
	_, err := w.applyDue(q, now)
	return err
}

// applyDue applies due items of q at now within the transaction's budget
// and reports whether due items are left.
func (w *wtx) applyDue(q *wq, now int64) (more bool, err error) {
	left, more, err := q.runDue(now, w.dueLeft, nil)
	if err != nil {
		return false, err
	}
	w.applied += w.dueLeft - left
	w.dueLeft = left
	return more, nil
}

// dueCount counts the keys of q's due indexes at or before now, up to
// limit: the items runDue would apply (ending a claim or a delay adds no
// due key, and expiring a message removes none that is due).
func (q *wq) dueCount(now int64, limit int) int {
	n := 0
	for _, b := range []*bbolt.Bucket{q.claimExp, q.delayed, q.expiry, q.dedupExp} {
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n < limit && keyTime(k) <= now; k, _ = c.Next() {
			n++
		}
	}
	return n
}

// catchUp applies what is due at now in queue ref through the committer,
// in ops that each apply what their transaction's budget allows, until
// nothing due at now is left or the queue is gone. Between ops other
// writers commit, and ctx and Close are heeded.
func (s *Store) catchUp(ctx context.Context, ref store.QueueRef, now int64) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closed.Load() {
			return errClosed()
		}
		var more bool
		err := s.commit.run(&op{wake: make(chan signal, 1), fn: func(w *wtx) error {
			more = false
			q, err := w.queue(ref)
			if q == nil || err != nil {
				return err
			}
			more, err = w.applyDue(q, now)
			return err
		}})
		if err != nil {
			return err
		}
		s.commit.mu.Lock()
		s.commit.catchUps++
		s.commit.mu.Unlock()
		if !more {
			return nil
		}
	}
}
