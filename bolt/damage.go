package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

var _ store.DamageKeeper = (*Store)(nil)

// Damaged messages (M11, store.DamagedMessage) live in a top-level bucket
// of their own, created on first use, with one nested bucket per queue
// whose damaged set holds any (keyed like the queues bucket). A file
// without it is a file without damage, so its queues are as they were and
// an empty queue costs nothing more. Each nested bucket's sequence counts
// its keys, for Stats (Q5: no scan). A value is
//
//	found  int64   Unix ns
//	uvarint origin queue name length, then the name
//	the message record as stored (codec.go), with its mismatching body
var bkDamaged = []byte("damaged")

// hookFn is the type of OnDamage's fn.
type hookFn = func(store.QueueRef, []store.DamagedMessage)

// asideBatch is what a write transaction set aside for one damaged set.
type asideBatch struct {
	to store.QueueRef
	ms []store.DamagedMessage
}

// setAside takes damaged message id (record r, as stored) out of q and
// puts it in the damaged set of q's dead-letter queue, or of q itself
// when it has none; the hook hears of it after the commit.
func (w *wtx) setAside(q *wq, id store.ID, r *rec, now int64) error {
	raw := r.encode() // a copy: r may alias a page the writes below change
	if err := q.remove(id, r, now); err != nil {
		return err
	}
	o, err := q.options()
	if err != nil {
		return err
	}
	to := q.ref
	if o.DeadLetterQueue != "" && o.DeadLetterQueue != q.ref.Name {
		to.Name = o.DeadLetterQueue
		// Created if missing, as a dead-letter move does (C6), so that
		// its Stats show what it holds; past the queue limit too (L1).
		if _, _, err := w.create(to, nil, now, 0); err != nil {
			return err
		}
	}
	top, err := w.tx.CreateBucketIfNotExists(bkDamaged)
	if err != nil {
		return err
	}
	set, err := top.CreateBucketIfNotExists(queueKey(to))
	if err != nil {
		return err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lenBuf[:], uint64(len(q.ref.Name)))
	v := make([]byte, 0, 8+n+len(q.ref.Name)+len(raw))
	v = append(v, int64Bytes(now)...)
	v = append(v, lenBuf[:n]...)
	v = append(v, q.ref.Name...)
	v = append(v, raw...)
	if set.Get(id[:]) == nil {
		if err := set.SetSequence(set.Sequence() + 1); err != nil {
			return err
		}
	}
	if err := set.Put(bytes.Clone(id[:]), v); err != nil {
		return err
	}
	d, err := decodeDamaged(id, v)
	if err != nil {
		return err
	}
	if k := len(w.aside); k > 0 && w.aside[k-1].to == to {
		w.aside[k-1].ms = append(w.aside[k-1].ms, d)
	} else {
		w.aside = append(w.aside, asideBatch{to: to, ms: []store.DamagedMessage{d}})
	}
	return nil
}

// decodeDamaged parses a damaged-set value, copying what it keeps.
func decodeDamaged(id store.ID, v []byte) (store.DamagedMessage, error) {
	bad := func() (store.DamagedMessage, error) {
		return store.DamagedMessage{}, store.Errorf(store.ErrCorrupt, "damaged message %s: bad record", id)
	}
	if len(v) < 9 {
		return bad()
	}
	found := int64(binary.BigEndian.Uint64(v))
	n, k := binary.Uvarint(v[8:])
	rest := v[8:]
	if k <= 0 || n > uint64(len(rest)-k) {
		return bad()
	}
	origin := string(rest[k : k+int(n)])
	r, err := decodeRec(id, rest[k+int(n):])
	if err != nil {
		return bad()
	}
	return store.DamagedMessage{
		ID:       id,
		Queue:    origin,
		Created:  toTime(r.created),
		Found:    toTime(found),
		Body:     bytes.Clone(r.body),
		Checksum: r.sum,
	}, nil
}

// damagedSet returns ref's damaged set in tx, or nil.
func damagedSet(tx *bbolt.Tx, ref store.QueueRef) *bbolt.Bucket {
	top := tx.Bucket(bkDamaged)
	if top == nil {
		return nil
	}
	return top.Bucket(queueKey(ref))
}

// damagedCount returns the size of ref's damaged set.
func damagedCount(tx *bbolt.Tx, ref store.QueueRef) int64 {
	if b := damagedSet(tx, ref); b != nil {
		return int64(b.Sequence())
	}
	return 0
}

// dropDamaged forgets ref's damaged set (queue delete and purge, Q6).
func (w *wtx) dropDamaged(ref store.QueueRef) error {
	top := w.tx.Bucket(bkDamaged)
	if top == nil {
		return nil
	}
	err := top.DeleteBucket(queueKey(ref))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// setAsideFound sets aside, in a write of its own, the messages of queue
// ref among ids that a read found damaged, if they still are: a read
// cannot write, and must not leave them to stall the next claim. It is
// best effort: the read already left them out, so an error here is not
// the read's, and the next write that meets them sets them aside.
func (s *Store) setAsideFound(ctx context.Context, ref store.QueueRef, ids []store.ID, at time.Time) {
	if len(ids) == 0 {
		return
	}
	_ = s.update(ctx, func(w *wtx) error {
		q, now, err := w.dueQueue(ref, at)
		if q == nil || err != nil {
			return err
		}
		for _, id := range ids {
			r, ok, err := q.rec(id)
			if err != nil {
				return err
			}
			if ok && !store.Intact(r.body, r.sum) {
				if err := w.setAside(q, id, &r, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ListDamaged returns up to Limit of a queue's damaged messages after
// Marker, in ID order.
func (s *Store) ListDamaged(ctx context.Context, p store.ListDamagedParams) ([]store.DamagedMessage, error) {
	if err := ctx.Err(); err != nil { // E1
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	var out []store.DamagedMessage
	err := s.view(func(tx *bbolt.Tx) error {
		b := damagedSet(tx, p.Queue)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek(p.Marker[:])
		if k != nil && bytes.Equal(k, p.Marker[:]) {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < p.Limit; k, v = c.Next() {
			d, err := decodeDamaged(idOf(k), v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// DeleteDamaged forgets damaged messages of a queue's damaged set.
func (s *Store) DeleteDamaged(ctx context.Context, p store.DeleteDamagedParams) error {
	if err := ctx.Err(); err != nil { // E1
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		b := damagedSet(w.tx, p.Queue)
		if b == nil {
			return nil
		}
		for _, id := range p.IDs {
			if b.Get(id[:]) == nil {
				continue
			}
			if err := b.Delete(id[:]); err != nil {
				return err
			}
			if err := b.SetSequence(b.Sequence() - 1); err != nil {
				return err
			}
		}
		return nil
	})
}

// OnDamage sets the hook that hears of each batch set aside, after its
// commit.
func (s *Store) OnDamage(fn func(store.QueueRef, []store.DamagedMessage)) {
	if fn == nil {
		s.damageHook.Store(nil)
		return
	}
	s.damageHook.Store(&fn)
}

// reportAside hands what a committed transaction set aside to the hook.
func (s *Store) reportAside(bs []asideBatch) {
	h := s.damageHook.Load()
	if h == nil {
		return
	}
	for _, b := range bs {
		(*h)(b.to, b.ms)
	}
}

// verifyDamaged checks that every damaged set's records decode and that
// its count (the bucket sequence Stats reads) is its number of records.
// The bodies fail their checksums: that is why they are there.
func verifyDamaged(tx *bbolt.Tx) error {
	top := tx.Bucket(bkDamaged)
	if top == nil {
		return nil
	}
	return top.ForEach(func(qk, v []byte) error {
		set := top.Bucket(qk)
		if v != nil || set == nil {
			return store.Errorf(store.ErrCorrupt, "damaged set %q is not a bucket", qk)
		}
		n := uint64(0)
		err := set.ForEach(func(k, v []byte) error {
			if len(k) != len(store.ID{}) {
				return store.Errorf(store.ErrCorrupt, "damaged set %q: bad key %x", qk, k)
			}
			if _, err := decodeDamaged(idOf(k), v); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if n != set.Sequence() {
			return store.Errorf(store.ErrCorrupt, "damaged set %q: count %d, %d records", qk, set.Sequence(), n)
		}
		return nil
	})
}
