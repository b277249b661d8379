package bolt

import (
	"context"

	"github.com/heraldmq/herald/store"
)

var _ store.Transactor = (*Store)(nil)

// Transact applies posts and deletes on several queues as one step (X1):
// the ops run in order as one write op of the group committer, each with
// the code of PostMessages or DeleteMessages inside the shared bbolt
// transaction, so each sees the writes of those before it. An op that
// fails rolls the whole write op back (the committer re-runs the rest of
// its batch without it), so the store is as it was; only the IDs the
// failed posts drew are skipped, never reused (M2). It returns once the
// transaction is fsynced (D1).
func (s *Store) Transact(ctx context.Context, p store.TxParams) ([][]store.ID, error) {
	if len(p.Ops) == 0 {
		return nil, store.Errorf(store.ErrInvalid, "transaction: no ops")
	}
	type op struct {
		post store.PostParams
		sums []uint32
		del  store.DeleteMessagesParams
	}
	ops := make([]op, len(p.Ops))
	for i := range p.Ops {
		o, x := &p.Ops[i], &ops[i]
		if err := o.Check(); err != nil {
			return nil, store.OpError(i, err)
		}
		if len(o.Delete) > 0 {
			x.del = store.DeleteMessagesParams{Queue: o.Queue, IDs: o.Delete, Claim: o.Claim, Now: p.Now}
			continue
		}
		x.post = store.PostParams{Queue: o.Queue, Messages: o.Post, ClientID: o.ClientID,
			DefaultTTL: p.DefaultTTL, DedupWindow: p.DedupWindow, ConfirmedOnly: p.ConfirmedOnly, Quota: p.Quota, Now: p.Now}
		if err := checkPost(&x.post); err != nil {
			return nil, store.OpError(i, err)
		}
		x.sums = make([]uint32, len(o.Post))
		for j := range o.Post {
			x.sums[j] = store.Checksum(o.Post[j].Body)
		}
	}
	out := make([][]store.ID, len(ops))
	err := s.update(ctx, func(w *wtx) error {
		// The committer may run this more than once: out is written
		// whole each time.
		for i := range ops {
			x := &ops[i]
			var err error
			if len(x.post.Messages) > 0 {
				out[i], err = w.post(&x.post, x.sums)
			} else {
				out[i], err = nil, w.deleteMessages(&x.del)
			}
			if err != nil {
				return store.OpError(i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
