package herald

import (
	"context"
	"errors"
	"slices"

	"github.com/heraldmq/herald/store"
)

// Flavor is a named set of pools with capabilities, belonging to one
// project (P4, T1). A queue created with a _flavor (QueueOptions.Flavor)
// is placed on one of its pools, chosen by weight (P2). The catalog keeps
// flavors, so they survive a restart.
type Flavor struct {
	// Name follows the queue-name rule.
	Name string
	// Pools names at least one pool of the Service.
	Pools []string
	// Capabilities describe what the pools offer, as names such as
	// "durable" or "fifo" (each following the queue-name rule). herald
	// does not act on them; they are for the application (and the HTTP
	// API) to show and choose by. Nil means none.
	Capabilities []string
}

// catalog returns the Service's catalog, or an errors.ErrUnsupported
// error for a Service without one.
func (s *Service) catalog(what string) (store.Cataloger, error) {
	if s.router.cat == nil {
		return nil, store.Errorf(errors.ErrUnsupported, "%s: this Service has no catalog; flavors need Options.Pools", what)
	}
	return s.router.cat, nil
}

// SetFlavor creates or replaces a flavor of the project. Every pool it
// names must be a pool of the Service now (ErrInvalid otherwise), and so
// must its names be valid (ErrInvalidName). Replacing a flavor changes
// where new queues go, not where existing ones are. A Service without a
// catalog gives an errors.ErrUnsupported error.
func (p *Project) SetFlavor(ctx context.Context, f Flavor) error {
	s := p.s
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	cat, err := s.catalog("flavor " + f.Name)
	if err != nil {
		return err
	}
	rec := store.FlavorRecord{Project: p.id, Name: f.Name, Pools: slices.Clone(f.Pools), Capabilities: slices.Clone(f.Capabilities)}
	if err := rec.Check(); err != nil {
		return err
	}
	r := s.router
	r.mu.RLock()
	for _, name := range rec.Pools {
		if _, err := r.named(name); err != nil {
			r.mu.RUnlock()
			return store.Errorf(ErrInvalid, "flavor %q: pool %q: no such pool", f.Name, name)
		}
	}
	r.mu.RUnlock()
	return cat.PutFlavor(ctx, rec)
}

// Flavor returns a flavor of the project, or ErrNotFound.
func (p *Project) Flavor(ctx context.Context, name string) (Flavor, error) {
	s := p.s
	if err := s.gate.Enter(); err != nil {
		return Flavor{}, err
	}
	defer s.gate.Leave()
	cat, err := s.catalog("flavor " + name)
	if err != nil {
		return Flavor{}, err
	}
	rec, err := cat.GetFlavor(ctx, p.id, name)
	if err != nil {
		return Flavor{}, err
	}
	return Flavor{Name: rec.Name, Pools: rec.Pools, Capabilities: rec.Capabilities}, nil
}

// Flavors lists the project's flavors in name order after marker
// (exclusive; "" starts at the first), at most limit of them (zero means
// Limits.DefaultPageSize). Page on with the last name as the next marker
// until a page comes back empty.
func (p *Project) Flavors(ctx context.Context, marker string, limit int) ([]Flavor, error) {
	s := p.s
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	cat, err := s.catalog("flavors")
	if err != nil {
		return nil, err
	}
	limit, err = s.limits.pageSize(limit)
	if err != nil {
		return nil, err
	}
	recs, err := cat.ListFlavors(ctx, store.ListFlavorsParams{Project: p.id, Marker: marker, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Flavor, len(recs))
	for i, rec := range recs {
		out[i] = Flavor{Name: rec.Name, Pools: rec.Pools, Capabilities: rec.Capabilities}
	}
	return out, nil
}

// DeleteFlavor removes a flavor of the project; removing a missing one is
// not an error. Queues placed through it stay where they are; creating a
// queue that names it then gives ErrInvalidMetadata.
func (p *Project) DeleteFlavor(ctx context.Context, name string) error {
	s := p.s
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	cat, err := s.catalog("flavor " + name)
	if err != nil {
		return err
	}
	return cat.DeleteFlavor(ctx, p.id, name)
}
