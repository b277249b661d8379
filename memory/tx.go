package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/heraldmq/herald/store"
)

var _ store.Transactor = (*Store)(nil)

// txOp is one op of a transaction with what Transact works out for it.
type txOp struct {
	*store.TxOp
	post  store.PostParams // a post's params, as PostMessages would get them
	ms    []*message       // a post's messages, copied
	size  int              // a post's summed body size
	dedup bool             // whether a post has a DedupID
	found []*message       // the messages a delete removes, once checked
}

// txQueue is a queue a transaction holds locked.
type txQueue struct {
	q   *queue
	now int64 // the queue's time, once advanced
	// c is the queue's metadata as the transaction sees it: read once,
	// with every lock held, so every post to the queue sees the same.
	c *conf
	// fresh is a queue the transaction's posts create: it joins the
	// directory only once every op has passed its checks.
	fresh bool
}

// Transact applies posts and deletes on several queues as one step (X1),
// all of them or none.
//
// It locks every queue the ops name, in one order (project, then name, as
// CreateClaim does for a dead-letter move), so transactions and claims
// never deadlock. Then it runs in two phases. The first checks every op,
// in order, against the state the ops before it leave, and changes
// nothing: a post runs the checks of PostMessages (size, TTL, delay), a
// delete the claim checks of M8, with the messages earlier deletes take
// counted as missing. Only when every op has passed does the second phase
// apply them, in order, with the code of PostMessages and DeleteMessages;
// nothing in it can fail. So a failed transaction leaves the store as it
// was, with no ID issued; a queue a post would create is made on the side
// and joins the directory only then.
//
// A delete cannot name a message posted earlier in the same transaction
// (its ID is issued in the second phase, after the caller chose the IDs to
// delete), and dedup (M10) is resolved in the second phase, so repeats
// across ops get the first ID as they would in separate calls.
func (s *Store) Transact(ctx context.Context, p store.TxParams) ([][]store.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(p.Ops) == 0 {
		return nil, store.Errorf(store.ErrInvalid, "transaction: no ops")
	}
	ops := make([]txOp, len(p.Ops))
	deletes := 0
	for i := range p.Ops {
		o := &ops[i]
		o.TxOp = &p.Ops[i]
		if err := o.Check(); err != nil {
			return nil, store.OpError(i, err)
		}
		if len(o.Delete) > 0 {
			deletes++
			continue
		}
		o.post = store.PostParams{Queue: o.Queue, Messages: o.Post, ClientID: o.ClientID,
			DefaultTTL: p.DefaultTTL, DedupWindow: p.DedupWindow, ConfirmedOnly: p.ConfirmedOnly, Quota: p.Quota, Now: p.Now}
		o.ms = make([]*message, len(o.Post))
		var err error
		if o.size, o.dedup, err = preparePost(&o.post, o.ms); err != nil {
			return nil, store.OpError(i, err)
		}
	}
	now := s.observe(p.Now)
	for {
		qs, order, err := s.lockTx(ops, now)
		if err != nil {
			return nil, err
		}
		if err := checkTx(ops, qs, deletes > 1); err != nil {
			unlockTx(order)
			return nil, err
		}
		switch ok, err := s.addFresh(order, p.Quota.QueuesPerProject); {
		case err != nil:
			unlockTx(order)
			return nil, err
		case !ok:
			// Another call created a queue this one meant to: start
			// again with that queue.
			unlockTx(order)
			continue
		}
		out := make([][]store.ID, len(ops))
		for i := range ops {
			o := &ops[i]
			t := qs[o.Queue]
			switch {
			case len(o.Post) > 0:
				out[i] = s.commitPost(t.q, t.now, o.ms, &o.post, o.dedup)
			case t != nil:
				t.q.removeAll(o.found)
			}
		}
		unlockTx(order)
		return out, nil
	}
}

// lockTx looks up the queues ops name, makes on the side those a post needs
// that do not exist, and locks them all in order with everything due at now
// applied. A missing queue that only deletes name is left out (nil in the
// map): those deletes do nothing. It returns the queues by ref and in lock
// order.
func (s *Store) lockTx(ops []txOp, now int64) (map[store.QueueRef]*txQueue, []*txQueue, error) {
	for {
		qs := make(map[store.QueueRef]*txQueue)
		var order []*txQueue
		for i := range ops {
			o := &ops[i]
			if t, seen := qs[o.Queue]; seen && (t != nil || len(o.Post) == 0) {
				continue
			}
			q, err := s.lookup(o.Queue)
			if err != nil {
				return nil, nil, err
			}
			t := &txQueue{q: q}
			if q == nil {
				if len(o.Post) == 0 {
					qs[o.Queue] = nil // a later post may still make it
					continue
				}
				t.q, t.fresh = newQueue(o.Queue, emptyConf, now), true
			}
			qs[o.Queue] = t
			order = append(order, t)
		}
		slices.SortFunc(order, func(a, b *txQueue) int {
			return cmp.Or(cmp.Compare(a.q.ref.Project, b.q.ref.Project), cmp.Compare(a.q.ref.Name, b.q.ref.Name))
		})
		dead := false
		for _, t := range order {
			t.q.mu.Lock()
			dead = dead || t.q.dead
		}
		if dead {
			// A queue was deleted between the lookup and the lock.
			unlockTx(order)
			continue
		}
		// Apply what fell due, at most catchUpBatch items in all while
		// the queues are locked (B1), as CreateClaim does for its two. If
		// more is due, catch each up with its lock free between steps
		// and start again.
		budget, behind := catchUpBatch, false
		for _, t := range order {
			if budget, behind = t.q.applyDue(now, budget); behind {
				break
			}
		}
		if behind {
			unlockTx(order)
			for _, t := range order {
				if !t.fresh {
					t.q.released()
					t.q.catchUp(now)
				}
			}
			continue
		}
		for _, t := range order {
			t.now = t.q.at(now)
			t.c = t.q.conf.Load()
		}
		return qs, order, nil
	}
}

// checkTx runs the first phase of Transact: every op's checks, in order,
// changing nothing. A delete finds its messages, leaving out those an
// earlier delete takes when track is set.
func checkTx(ops []txOp, qs map[store.QueueRef]*txQueue, track bool) error {
	var gone map[*message]bool
	if track {
		gone = make(map[*message]bool)
	}
	for i := range ops {
		o := &ops[i]
		t := qs[o.Queue]
		var err error
		switch {
		case len(o.Post) > 0:
			_, _, err = resolve(o.ms, &o.post, t.c, o.size, t.now)
		case t == nil: // a delete on a queue that does not exist
			o.found = nil
			if !o.Claim.IsZero() {
				err = store.Gone(o.Delete[0], o.Claim)
			}
		default:
			o.found, err = t.q.deletable(nil, o.Delete, o.Claim, gone)
			if gone != nil {
				for _, m := range o.found {
					gone[m] = true
				}
			}
		}
		if err != nil {
			return store.OpError(i, err)
		}
	}
	return nil
}

// addFresh puts the queues a transaction made into the directory, locked.
// It reports false, adding none, if another call made one of them first,
// and gives ErrTooMany, adding none, if they would take a project past
// limit (0: none).
func (s *Store) addFresh(order []*txQueue, limit int) (bool, error) {
	if !slices.ContainsFunc(order, func(t *txQueue) bool { return t.fresh }) {
		return true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errClosed()
	}
	var fresh map[string]int
	for _, t := range order {
		if !t.fresh {
			continue
		}
		if s.queues[t.q.ref] != nil {
			return false, nil
		}
		if fresh == nil {
			fresh = make(map[string]int)
		}
		if n := s.perProject[t.q.ref.Project] + fresh[t.q.ref.Project]; !store.Admits(n, limit) {
			return false, store.QueueCapErr(t.q.ref, n, limit)
		}
		fresh[t.q.ref.Project]++
	}
	for _, t := range order {
		if t.fresh {
			s.add(t.q)
		}
	}
	return true, nil
}

func unlockTx(order []*txQueue) {
	for _, t := range order {
		t.q.mu.Unlock()
	}
}
