package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/heraldmq/herald/store"
)

func notFound(ref store.QueueRef) error {
	return store.Errorf(store.ErrNotFound, "queue %q in project %q not found", ref.Name, ref.Project)
}

// CreateQueue creates a queue, or reports false and leaves an existing one
// alone (Q2). The metadata is checked either way.
func (s *Store) CreateQueue(ctx context.Context, p store.CreateQueueParams) (bool, error) {
	if err := p.Queue.Check(); err != nil {
		return false, err
	}
	if _, err := store.CheckQueueMetadata(p.Queue.Name, p.Metadata); err != nil {
		return false, err
	}
	var created bool
	err := s.update(ctx, func(w *wtx) error {
		var err error
		_, created, err = w.create(p.Queue, p.Metadata, s.observe(p.Now), p.Quota.QueuesPerProject)
		return err
	})
	return created, err
}

// GetQueue returns a queue with its metadata, or ErrNotFound.
func (s *Store) GetQueue(ctx context.Context, p store.GetQueueParams) (store.QueueInfo, error) {
	if err := ctx.Err(); err != nil {
		return store.QueueInfo{}, err
	}
	if err := p.Queue.Check(); err != nil {
		return store.QueueInfo{}, err
	}
	var info store.QueueInfo
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bkQueues)
		if b == nil {
			return store.Errorf(store.ErrCorrupt, "the queues bucket is missing")
		}
		qb := b.Bucket(queueKey(p.Queue))
		if qb == nil {
			return notFound(p.Queue)
		}
		info = queueInfo(p.Queue.Name, qb, true)
		return nil
	})
	return info, err
}

func queueInfo(name string, b *bbolt.Bucket, meta bool) store.QueueInfo {
	created, _ := bytesInt64(b.Get(keyCreated))
	info := store.QueueInfo{Name: name, Created: toTime(created)}
	if meta {
		info.Metadata = json.RawMessage(bytes.Clone(b.Get(keyMeta)))
	}
	return info
}

// SetQueueMetadata replaces a queue's metadata, or returns ErrNotFound; with
// p.Expected, only if the metadata is still that (ErrConflict otherwise),
// checked in the transaction that writes it.
func (s *Store) SetQueueMetadata(ctx context.Context, p store.SetQueueMetadataParams) error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	if _, err := store.CheckQueueMetadata(p.Queue.Name, p.Metadata); err != nil {
		return err
	}
	meta := p.Metadata
	if len(bytes.TrimSpace(meta)) == 0 {
		meta = json.RawMessage("{}")
	}
	meta = bytes.Clone(meta)
	return s.update(ctx, func(w *wtx) error {
		q, err := w.queue(p.Queue)
		if err != nil {
			return err
		}
		if q == nil {
			return notFound(p.Queue)
		}
		if err := p.CheckExpected(q.b.Get(keyMeta)); err != nil {
			return err
		}
		q.opts = nil
		return q.b.Put(keyMeta, meta)
	})
}

// DeleteQueue removes a queue and everything in it, its subscriptions and
// their deliveries too (Q6).
func (s *Store) DeleteQueue(ctx context.Context, p store.DeleteQueueParams) error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		w.drop(p.Queue)
		if err := w.dropQueueSubs(queueKey(p.Queue)); err != nil {
			return err
		}
		if err := w.dropDamaged(p.Queue); err != nil {
			return err
		}
		err := w.queues.DeleteBucket(queueKey(p.Queue))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		pb, err := w.projects()
		if err != nil {
			return err
		}
		return addQueues(pb, p.Queue.Project, -1)
	})
}

// ListQueues lists a project's queues in name order after the marker (Q4).
// Queue keys are project + "/" + name, and a project has no '/', so a
// project's queues are one key range.
func (s *Store) ListQueues(ctx context.Context, p store.ListQueuesParams) ([]store.QueueInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckProject(p.Project); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(p.Limit, "queue list limit"); err != nil {
		return nil, err
	}
	var out []store.QueueInfo
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bkQueues)
		if b == nil {
			return store.Errorf(store.ErrCorrupt, "the queues bucket is missing")
		}
		prefix := []byte(p.Project + "/")
		c := b.Cursor()
		for k, v := c.Seek(append(bytes.Clone(prefix), p.Marker...)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, v = c.Next() {
			name := string(k[len(prefix):])
			if v != nil || name == p.Marker && p.Marker != "" {
				continue // not a bucket, or the marker itself
			}
			out = append(out, queueInfo(name, b.Bucket(k), p.WithMetadata))
		}
		return nil
	})
	return out, err
}

// QueueStats counts a queue's messages (Q5), or returns ErrNotFound. It
// reads the stored counters and corrects them for what fell due since, so
// it costs O(log n) plus the due items.
func (s *Store) QueueStats(ctx context.Context, p store.QueueStatsParams) (store.Stats, error) {
	if err := ctx.Err(); err != nil {
		return store.Stats{}, err
	}
	if err := p.Queue.Check(); err != nil {
		return store.Stats{}, err
	}
	now := s.observe(p.Now)
	var st store.Stats
	err := s.view(func(tx *bbolt.Tx) error {
		q, err := readQueue(tx, p.Queue)
		if err != nil {
			return err
		}
		if q == nil {
			return notFound(p.Queue)
		}
		st, err = q.stats(now)
		st.Damaged = damagedCount(tx, p.Queue)
		return err
	})
	return st, err
}

// PurgeQueue removes every message and ends every claim; metadata and
// dedup entries stay (Q6).
func (s *Store) PurgeQueue(ctx context.Context, p store.PurgeQueueParams) error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		w.s.observe(p.Now)
		q, err := w.queue(p.Queue)
		if q == nil || err != nil {
			return err
		}
		// Nothing due needs applying first: the purge drops every
		// message and claim, and post reads the dedup entries it keeps at
		// its own Now.
		if err := w.dropDamaged(p.Queue); err != nil {
			return err
		}
		return q.purge()
	})
}

// Sweep removes up to p.Limit expired messages, claims, dedup entries and
// subscriptions with their deliveries, and ends up to that many delays, in
// one transaction (B1). It visits every
// queue: the cost is a few index seeks per queue plus the items it
// applies, never the messages stored.
func (s *Store) Sweep(ctx context.Context, p store.SweepParams) (store.SweepResult, error) {
	var res store.SweepResult
	if err := store.CheckLimit(p.Limit, "sweep limit"); err != nil {
		return res, err
	}
	err := s.update(ctx, func(w *wtx) error {
		res = store.SweepResult{}
		now := s.observe(p.Now)
		var keys [][]byte
		c := w.queues.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				keys = append(keys, bytes.Clone(k))
			}
		}
		budget := p.Limit
		for _, k := range keys {
			i := bytes.IndexByte(k, '/')
			if i < 0 {
				continue
			}
			q, err := w.queue(store.QueueRef{Project: string(k[:i]), Name: string(k[i+1:])})
			if err != nil {
				return err
			}
			if q == nil || now < q.due {
				continue
			}
			if budget == 0 {
				res.More = true
				return nil
			}
			var more bool
			if budget, more, err = q.runDue(now, budget, &res); err != nil {
				return err
			}
			if more {
				res.More = true
				return nil
			}
		}
		var err error
		_, res.More, err = w.sweepSubs(now, budget, &res)
		return err
	})
	return res, err
}
