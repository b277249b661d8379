package herald

import (
	"context"
	"errors"
	"time"

	"github.com/heraldmq/herald/store"
)

// Project is a tenant's view of a Service (T1): its queues are invisible to
// every other project.
type Project struct {
	s  *Service
	id string
}

// ID returns the project id.
func (p *Project) ID() string { return p.id }

// Queue returns the handle of a queue. The name is checked when the handle
// is used (Q1): 1–64 characters of [A-Za-z0-9_.-]. Handles are cheap and
// hold no state; the queue itself is created on first post (Q2) or by
// Queue.Create.
func (p *Project) Queue(name string) *Queue {
	return &Queue{s: p.s, ref: store.QueueRef{Project: p.id, Name: name}}
}

// QueueInfo describes a queue in a listing.
type QueueInfo struct {
	Name string
	// Metadata is nil unless ListQueuesOptions.WithMetadata was set.
	Metadata Metadata
	Created  time.Time
}

// ListQueuesOptions shape a queue listing (Q4).
type ListQueuesOptions struct {
	// Marker is exclusive: the page starts after this name. "" starts at
	// the first queue.
	Marker string
	// Limit is the page size; zero means Limits.DefaultPageSize.
	Limit        int
	WithMetadata bool
}

// ListQueues lists the project's queues in name order. Page on with the
// last name as the next Marker until a page comes back empty.
func (p *Project) ListQueues(ctx context.Context, o ListQueuesOptions) ([]QueueInfo, error) {
	s := p.s
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	if err := store.CheckProject(p.id); err != nil {
		return nil, err
	}
	var err error
	if o.Limit, err = s.limits.pageSize(o.Limit); err != nil {
		return nil, err
	}
	var infos []store.QueueInfo
	if s.router.cat == nil {
		infos, err = s.router.pools[0].store.ListQueues(ctx, store.ListQueuesParams{
			Project: p.id, Marker: o.Marker, Limit: o.Limit, WithMetadata: o.WithMetadata,
		})
	} else {
		infos, err = p.listPlaced(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, len(infos))
	for i, qi := range infos {
		out[i] = QueueInfo{Name: qi.Name, Created: qi.Created}
		if o.WithMetadata {
			if out[i].Metadata, err = decodeMetadata(qi.Metadata); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// listPlaced lists the project's queues from the catalog, across pools
// (Q4): one catalog read per page, and with metadata one GetQueue per
// queue on its pool. A placement whose queue is gone from its store (a
// crash between the two deletes) is left out.
func (p *Project) listPlaced(ctx context.Context, o ListQueuesOptions) ([]store.QueueInfo, error) {
	r := p.s.router
	out := make([]store.QueueInfo, 0, o.Limit)
	marker := o.Marker
	for len(out) < o.Limit {
		page, err := r.cat.ListPlacements(ctx, store.ListPlacementsParams{Project: p.id, Marker: marker, Limit: o.Limit - len(out)})
		if err != nil || len(page) == 0 {
			return out, err
		}
		for _, pl := range page {
			if !o.WithMetadata {
				out = append(out, store.QueueInfo{Name: pl.Queue.Name, Created: pl.Created})
				continue
			}
			e, err := r.lookup(ctx, pl.Queue)
			if err != nil {
				return nil, err
			}
			info, err := e.pool.store.GetQueue(ctx, store.GetQueueParams{Queue: pl.Queue})
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, info)
		}
		marker = page[len(page)-1].Queue.Name
	}
	return out, nil
}
