package store

import (
	"context"
	"time"
)

// Cataloger is an optional ability of a Store: it keeps the catalog of a
// pooled herald Service (P1, P4) — which pool holds each queue, and each
// project's flavors — so that placements survive a restart. The Service
// keeps it in its management store and caches what it reads; only the
// Service writes it. Find it by type assertion:
//
//	if c, ok := st.(store.Cataloger); ok {
//		pl, err := c.GetPlacement(ctx, ref)
//		...
//	}
//
// Each method is one atomic step (a durable store returns only after the
// write is durable). Every method checks its names (T1, Q1, pool and
// flavor names follow the queue-name rule) and returns ErrClosed after
// Close. The catalog is separate from the store's queues: a placement says
// where a queue lives, it does not create one.
type Cataloger interface {
	// GetPlacement returns the placement of a queue, or ErrNotFound.
	GetPlacement(ctx context.Context, q QueueRef) (Placement, error)
	// PutPlacement records or replaces a placement.
	PutPlacement(ctx context.Context, p Placement) error
	// DeletePlacement removes a placement. Removing a missing one is not an
	// error.
	DeletePlacement(ctx context.Context, q QueueRef) error
	// ListPlacements lists a project's placements in queue-name order after
	// the marker (Q4).
	ListPlacements(ctx context.Context, p ListPlacementsParams) ([]Placement, error)
	// PoolPlacements lists the placements on one pool, across projects, in
	// (project, name) order after p.After.
	PoolPlacements(ctx context.Context, p PoolPlacementsParams) ([]Placement, error)

	// GetFlavor returns a project's flavor, or ErrNotFound.
	GetFlavor(ctx context.Context, project, name string) (FlavorRecord, error)
	// PutFlavor records or replaces a flavor. It does not check that its
	// pools exist: pools are the Service's, not the store's.
	PutFlavor(ctx context.Context, f FlavorRecord) error
	// DeleteFlavor removes a flavor. Removing a missing one is not an
	// error.
	DeleteFlavor(ctx context.Context, project, name string) error
	// ListFlavors lists a project's flavors in name order after the marker.
	ListFlavors(ctx context.Context, p ListFlavorsParams) ([]FlavorRecord, error)
}

// Placement says which pool holds a queue (P1).
type Placement struct {
	Queue QueueRef
	// Pool is the pool's name.
	Pool string
	// Created is when the queue was placed.
	Created time.Time
}

// Check validates a placement's names.
func (p Placement) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckPoolName(p.Pool)
}

// ListPlacementsParams are the arguments of Cataloger.ListPlacements.
type ListPlacementsParams struct {
	Project string
	// Marker is exclusive; "" starts at the first queue.
	Marker string
	// Limit is at least 1.
	Limit int
}

// Check validates the parameters.
func (p ListPlacementsParams) Check() error {
	if err := CheckProject(p.Project); err != nil {
		return err
	}
	return CheckLimit(p.Limit, "placement list limit")
}

// PoolPlacementsParams are the arguments of Cataloger.PoolPlacements.
type PoolPlacementsParams struct {
	Pool string
	// After is exclusive; the zero QueueRef starts at the first queue.
	After QueueRef
	// Limit is at least 1.
	Limit int
}

// Check validates the parameters.
func (p PoolPlacementsParams) Check() error {
	if err := CheckPoolName(p.Pool); err != nil {
		return err
	}
	if err := CheckProject(p.After.Project); err != nil {
		return err
	}
	return CheckLimit(p.Limit, "placement list limit")
}

// FlavorRecord is a flavor as the catalog keeps it (P4): a named set of
// pools, with capabilities, belonging to one project (T1).
type FlavorRecord struct {
	Project string
	Name    string
	// Pools names at least one pool.
	Pools []string
	// Capabilities are free-form names such as "durable" or "fifo".
	Capabilities []string
}

// Check validates a flavor's names: the project, the flavor name, at least
// one pool, every pool name, and non-empty capabilities that follow the
// queue-name rule.
func (f FlavorRecord) Check() error {
	if err := CheckProject(f.Project); err != nil {
		return err
	}
	if err := CheckFlavorName(f.Name); err != nil {
		return err
	}
	if len(f.Pools) == 0 {
		return Errorf(ErrInvalid, "flavor %q: no pools", f.Name)
	}
	for _, p := range f.Pools {
		if err := CheckPoolName(p); err != nil {
			return err
		}
	}
	for _, c := range f.Capabilities {
		if err := checkName("capability", c); err != nil {
			return err
		}
	}
	return nil
}

// ListFlavorsParams are the arguments of Cataloger.ListFlavors.
type ListFlavorsParams struct {
	Project string
	// Marker is exclusive; "" starts at the first flavor.
	Marker string
	// Limit is at least 1.
	Limit int
}

// Check validates the parameters.
func (p ListFlavorsParams) Check() error {
	if err := CheckProject(p.Project); err != nil {
		return err
	}
	return CheckLimit(p.Limit, "flavor list limit")
}

// Sizer is an optional ability of a Store that can say how many bytes it
// takes (a file's size, for example); pooled Services report it in pool
// stats.
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}
