package herald

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/heraldmq/herald/internal/unplaced"
	"github.com/heraldmq/herald/store"
)

// Queue is the handle of one queue of one project. It holds no state but
// the names, the client id and a cache of where the queue is, so it is
// cheap to make and safe to share.
type Queue struct {
	s        *Service
	ref      store.QueueRef
	clientID string
	// at caches the queue's entry for a pooled Service, so that a handle
	// used again finds its pool without a map lookup. It is nil until the
	// queue is found placed, and ignored once the entry is gone.
	at atomic.Pointer[entry]
}

// Name returns the queue name.
func (q *Queue) Name() string { return q.ref.Name }

// Project returns the project id.
func (q *Queue) Project() string { return q.ref.Project }

// Service returns the Service the queue belongs to.
func (q *Queue) Service() *Service { return q.s }

// WithClientID returns a handle that posts as clientID and lists with the
// echo rule for it (M6): List leaves out that client's own messages unless
// ListOptions.Echo is set.
func (q *Queue) WithClientID(clientID string) *Queue {
	c := &Queue{s: q.s, ref: q.ref, clientID: clientID}
	c.at.Store(q.at.Load())
	return c
}

// begin admits a call and finds the queue's store. On success the caller
// must defer q.s.gate.Leave().
func (q *Queue) begin(ctx context.Context) (store.Store, error) {
	e, err := q.enter(ctx)
	if err != nil {
		return nil, err
	}
	return e.pool.store, nil
}

// enter admits a call and finds the queue's entry. On success the caller
// must defer q.s.gate.Leave().
func (q *Queue) enter(ctx context.Context) (*entry, error) {
	if err := q.s.gate.Enter(); err != nil {
		return nil, err
	}
	e, err := q.entry(ctx)
	if err == nil && q.s.router.single != nil {
		err = q.ref.Check()
	}
	if err != nil {
		q.s.gate.Leave()
		return nil, err
	}
	return e, nil
}

// entry finds the queue's entry through the handle's cache, then the
// Service's (see Service.route). Without a catalog it is the one pool's,
// and the ref is not checked here: Queue calls check it on entry.
func (q *Queue) entry(ctx context.Context) (*entry, error) {
	r := q.s.router
	if r.single != nil {
		return r.single, nil
	}
	if e := q.at.Load(); e != nil && !e.gone.Load() {
		return e, nil
	}
	e, err := q.s.route(ctx, q.ref)
	if err == nil && e != nowhere {
		q.at.Store(e)
	}
	return e, err
}

// Create creates the queue with metadata and reports true, or reports false
// and leaves the existing queue's metadata alone (Q2). The metadata is
// validated either way (Q3).
//
// With pools, a new queue is placed first (P2): on a pool of the flavor
// its _flavor names (P4; a flavor the project does not have gives
// ErrInvalidMetadata), and on the pool of its _dead_letter_queue, which is
// created there, empty, if it does not exist yet, so that dead-lettering
// never crosses pools (C6, P5). A dead-letter queue on a pool the flavor
// does not name gives ErrCrossPool.
func (q *Queue) Create(ctx context.Context, m Metadata) (created bool, err error) {
	e, err := q.enter(ctx)
	if err != nil {
		return false, err
	}
	defer q.s.gate.Leave()
	raw, err := q.s.limits.encodeMetadata(q.ref.Name, m)
	if err != nil {
		return false, err
	}
	pl := placement{meta: raw}
	if e == nowhere {
		if pl, err = q.s.placementFor(ctx, q.ref, raw); err != nil {
			return false, err
		}
	}
	e, created, err = q.s.hold(ctx, q.ref, pl)
	if err != nil || created {
		if created {
			q.s.unhold(e)
		}
		return created, err
	}
	defer q.s.unhold(e)
	return e.pool.store.CreateQueue(ctx, store.CreateQueueParams{Queue: q.ref, Metadata: raw, Quota: q.s.limits.quota(), Now: q.s.now()})
}

// Metadata returns the queue's metadata, or ErrNotFound.
func (q *Queue) Metadata(ctx context.Context) (Metadata, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	info, err := st.GetQueue(ctx, store.GetQueueParams{Queue: q.ref})
	if err != nil {
		return nil, err
	}
	return decodeMetadata(info.Metadata)
}

// Options returns the queue's reserved metadata keys, typed, or ErrNotFound.
func (q *Queue) Options(ctx context.Context) (QueueOptions, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return QueueOptions{}, err
	}
	defer q.s.gate.Leave()
	info, err := st.GetQueue(ctx, store.GetQueueParams{Queue: q.ref})
	if err != nil {
		return QueueOptions{}, err
	}
	return store.ParseQueueOptions(info.Metadata)
}

// SetMetadata replaces the queue's metadata (Q3), or returns ErrNotFound.
//
// With pools, a _dead_letter_queue is made to live on the queue's pool: it
// is created there, empty, if it does not exist, and one on another pool
// gives ErrCrossPool (C6, P5). It is created only once the metadata is
// written, so a call that fails creates no queue. A _flavor must name a flavor of the project
// (ErrInvalidMetadata otherwise), but changing it does not move the
// queue: flavors only place new queues.
func (q *Queue) SetMetadata(ctx context.Context, m Metadata) error {
	e, err := q.enter(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	return q.setMetadata(ctx, e, m, nil)
}

// setMetadata validates m as SetMetadata documents and writes it to the
// queue on e if its stored metadata is still expected (always, if
// expected is empty); a dead-letter queue it names is placed only if the
// write lands (see colocate).
func (q *Queue) setMetadata(ctx context.Context, e *entry, m Metadata, expected json.RawMessage) error {
	raw, err := q.s.limits.encodeMetadata(q.ref.Name, m)
	if err != nil {
		return err
	}
	return q.s.colocate(ctx, q.ref, e, raw, func() error {
		return e.pool.store.SetQueueMetadata(ctx, store.SetQueueMetadataParams{Queue: q.ref, Metadata: raw, Expected: expected})
	})
}

// metadataTries bounds UpdateMetadata's attempts; docs elsewhere (the
// httpapi PATCH, TESTING.md) refer to it rather than repeat the number.
// An attempt fails only because another writer's change landed after its
// read, so up to this many writers racing on one queue all get through.
const metadataTries = 16

// UpdateMetadata changes the queue's metadata (Q3) by read-modify-write
// without losing a concurrent change: fn gets the current metadata, a
// copy it may change in place, and returns the new metadata, which is
// checked as SetMetadata checks it (limits, reserved keys, _flavor,
// _dead_letter_queue placed on the queue's pool). It is written only if
// the queue's metadata is still what fn was given; if another writer
// changed it in between, UpdateMetadata reads it again and calls fn
// again, up to 16 attempts in all (metadataTries), then returns
// ErrConflict. An error from fn, or from checking what it returned, is
// returned as it is and nothing is written. A missing queue gives
// ErrNotFound.
//
// So fn may run several times, and should be quick: another writer has
// the time fn takes to land first. Its side effects, if any, must bear
// repeating. It runs while the call holds the Service open (the gate
// Close waits on), so it must not call Service.Close, which would then
// never return. fn gets a fresh copy on each attempt and must not keep
// that map, or the one it returns, to use elsewhere while UpdateMetadata
// runs: what fn returns is encoded after fn returns, and an attempt that
// loses is thrown away with its map. Only once UpdateMetadata returns nil
// is the map the last call returned the metadata written.
func (q *Queue) UpdateMetadata(ctx context.Context, fn func(Metadata) (Metadata, error)) error {
	e, err := q.enter(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	for range metadataTries {
		info, err := e.pool.store.GetQueue(ctx, store.GetQueueParams{Queue: q.ref})
		if err != nil {
			return err
		}
		m, err := decodeMetadata(info.Metadata)
		if err != nil {
			return err
		}
		if m, err = fn(m); err != nil {
			return err
		}
		// The write lands only over what was read: the store compares
		// the two. A store reads a queue without metadata as {}
		// (store.QueueInfo); should one not, empty must still not reach
		// Expected, where it means "unconditional".
		read := info.Metadata
		if len(read) == 0 {
			read = json.RawMessage("{}")
		}
		err = q.setMetadata(ctx, e, m, read)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return store.Errorf(ErrConflict, "queue %q in project %q: metadata changed during each of %d attempts to update it", q.ref.Name, q.ref.Project, metadataTries)
}

// Stats counts the queue's messages (Q5), or returns ErrNotFound.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer q.s.gate.Leave()
	return st.QueueStats(ctx, store.QueueStatsParams{Queue: q.ref, Now: q.s.now()})
}

// Stats counts a queue's messages without scanning them (Q5; an alias of
// store.Stats). Every unexpired message is in exactly one of Free,
// Claimed and Delayed. Its fields:
//
//	Free    int64             // claimable now
//	Claimed int64             // under a live claim
//	Delayed int64             // unclaimed, not yet visible (M5, C5)
//	Total   int64             // Free + Claimed + Delayed
//	Damaged int64             // set aside for a bad checksum (M11; Queue.Damaged lists them); not in Total
//	Oldest  *store.MessageRef // ID and Created of the oldest message; nil when Total is 0
//	Newest  *store.MessageRef // the same for the newest
type Stats = store.Stats

// Purge removes every message of the queue, claimed ones too; their claims
// end (Q6). Metadata stays.
func (q *Queue) Purge(ctx context.Context) error {
	st, err := q.begin(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	return st.PurgeQueue(ctx, store.PurgeQueueParams{Queue: q.ref, Now: q.s.now()})
}

// DeleteQueue removes the queue with its messages and claims (Q6), and
// then its placement, so that a later post places it anew (P2).
// Deleting a missing queue is not an error.
func (q *Queue) DeleteQueue(ctx context.Context) error {
	e, err := q.enter(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if q.s.router.single != nil || e == nowhere {
		return e.pool.store.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q.ref})
	}
	return q.s.router.unplace(ctx, q.ref, e)
}

// Pool returns the name of the pool that holds the queue (P1), or
// ErrNotFound if the catalog places it nowhere (it does not exist). A
// Service without a catalog (made with Options.Store) answers with its
// one pool, "default", for every queue.
func (q *Queue) Pool(ctx context.Context) (string, error) {
	e, err := q.enter(ctx)
	if err != nil {
		return "", err
	}
	defer q.s.gate.Leave()
	if e == nowhere {
		return "", unplaced.Missing(q.ref)
	}
	return e.pool.name, nil
}
