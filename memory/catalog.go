package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/google/btree"

	"github.com/heraldmq/herald/store"
)

var _ store.Cataloger = (*Store)(nil)

// catalog is the store's store.Cataloger half: placements ordered by
// (project, name) and by (pool, project, name), and flavors by (project,
// name). Its own mutex guards it; no queue lock is ever taken under it.
type catalog struct {
	mu      sync.RWMutex
	byQueue *btree.BTreeG[store.Placement]
	byPool  *btree.BTreeG[store.Placement]
	flavors *btree.BTreeG[store.FlavorRecord]
}

func refLess(a, b store.QueueRef) bool {
	if a.Project != b.Project {
		return a.Project < b.Project
	}
	return a.Name < b.Name
}

func newCatalog() *catalog {
	return &catalog{
		byQueue: btree.NewG(8, func(a, b store.Placement) bool { return refLess(a.Queue, b.Queue) }),
		byPool: btree.NewG(8, func(a, b store.Placement) bool {
			if a.Pool != b.Pool {
				return a.Pool < b.Pool
			}
			return refLess(a.Queue, b.Queue)
		}),
		flavors: btree.NewG(8, func(a, b store.FlavorRecord) bool {
			return refLess(store.QueueRef{Project: a.Project, Name: a.Name}, store.QueueRef{Project: b.Project, Name: b.Name})
		}),
	}
}

// cat returns the catalog locked for reading (write, for writers), or
// ErrClosed; unlock with the returned func.
func (s *Store) cat(write bool) (*catalog, func(), error) {
	s.mu.RLock()
	c, closed := s.catalog, s.closed
	s.mu.RUnlock()
	if closed {
		return nil, nil, errClosed()
	}
	if write {
		c.mu.Lock()
		return c, c.mu.Unlock, nil
	}
	c.mu.RLock()
	return c, c.mu.RUnlock, nil
}

// GetPlacement returns a queue's placement, or ErrNotFound.
func (s *Store) GetPlacement(ctx context.Context, q store.QueueRef) (store.Placement, error) {
	if err := ctx.Err(); err != nil {
		return store.Placement{}, err
	}
	if err := q.Check(); err != nil {
		return store.Placement{}, err
	}
	c, unlock, err := s.cat(false)
	if err != nil {
		return store.Placement{}, err
	}
	defer unlock()
	p, ok := c.byQueue.Get(store.Placement{Queue: q})
	if !ok {
		return store.Placement{}, store.Errorf(store.ErrNotFound, "placement of queue %q in project %q not found", q.Name, q.Project)
	}
	return p, nil
}

// PutPlacement records or replaces a placement.
func (s *Store) PutPlacement(ctx context.Context, p store.Placement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return err
	}
	c, unlock, err := s.cat(true)
	if err != nil {
		return err
	}
	defer unlock()
	if old, ok := c.byQueue.ReplaceOrInsert(p); ok {
		c.byPool.Delete(old)
	}
	c.byPool.ReplaceOrInsert(p)
	return nil
}

// DeletePlacement removes a placement; a missing one is not an error.
func (s *Store) DeletePlacement(ctx context.Context, q store.QueueRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := q.Check(); err != nil {
		return err
	}
	c, unlock, err := s.cat(true)
	if err != nil {
		return err
	}
	defer unlock()
	if old, ok := c.byQueue.Delete(store.Placement{Queue: q}); ok {
		c.byPool.Delete(old)
	}
	return nil
}

// ListPlacements lists a project's placements in name order after the
// marker.
func (s *Store) ListPlacements(ctx context.Context, p store.ListPlacementsParams) ([]store.Placement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	c, unlock, err := s.cat(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []store.Placement
	from := store.Placement{Queue: store.QueueRef{Project: p.Project, Name: p.Marker}}
	c.byQueue.AscendGreaterOrEqual(from, func(pl store.Placement) bool {
		if pl.Queue.Project != p.Project {
			return false
		}
		if pl.Queue.Name != p.Marker {
			out = append(out, pl)
		}
		return len(out) < p.Limit
	})
	return out, nil
}

// PoolPlacements lists the placements on one pool after p.After.
func (s *Store) PoolPlacements(ctx context.Context, p store.PoolPlacementsParams) ([]store.Placement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	c, unlock, err := s.cat(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []store.Placement
	c.byPool.AscendGreaterOrEqual(store.Placement{Pool: p.Pool, Queue: p.After}, func(pl store.Placement) bool {
		if pl.Pool != p.Pool {
			return false
		}
		if pl.Queue != p.After {
			out = append(out, pl)
		}
		return len(out) < p.Limit
	})
	return out, nil
}

// GetFlavor returns a project's flavor, or ErrNotFound.
func (s *Store) GetFlavor(ctx context.Context, project, name string) (store.FlavorRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.FlavorRecord{}, err
	}
	if err := checkFlavorKey(project, name); err != nil {
		return store.FlavorRecord{}, err
	}
	c, unlock, err := s.cat(false)
	if err != nil {
		return store.FlavorRecord{}, err
	}
	defer unlock()
	f, ok := c.flavors.Get(store.FlavorRecord{Project: project, Name: name})
	if !ok {
		return store.FlavorRecord{}, store.Errorf(store.ErrNotFound, "flavor %q in project %q not found", name, project)
	}
	return cloneFlavor(f), nil
}

// PutFlavor records or replaces a flavor.
func (s *Store) PutFlavor(ctx context.Context, f store.FlavorRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.Check(); err != nil {
		return err
	}
	c, unlock, err := s.cat(true)
	if err != nil {
		return err
	}
	defer unlock()
	c.flavors.ReplaceOrInsert(cloneFlavor(f))
	return nil
}

// DeleteFlavor removes a flavor; a missing one is not an error.
func (s *Store) DeleteFlavor(ctx context.Context, project, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkFlavorKey(project, name); err != nil {
		return err
	}
	c, unlock, err := s.cat(true)
	if err != nil {
		return err
	}
	defer unlock()
	c.flavors.Delete(store.FlavorRecord{Project: project, Name: name})
	return nil
}

// ListFlavors lists a project's flavors in name order after the marker.
func (s *Store) ListFlavors(ctx context.Context, p store.ListFlavorsParams) ([]store.FlavorRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	c, unlock, err := s.cat(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []store.FlavorRecord
	c.flavors.AscendGreaterOrEqual(store.FlavorRecord{Project: p.Project, Name: p.Marker}, func(f store.FlavorRecord) bool {
		if f.Project != p.Project {
			return false
		}
		if f.Name != p.Marker {
			out = append(out, cloneFlavor(f))
		}
		return len(out) < p.Limit
	})
	return out, nil
}

func checkFlavorKey(project, name string) error {
	if err := store.CheckProject(project); err != nil {
		return err
	}
	return store.CheckFlavorName(name)
}

// cloneFlavor copies f's slices, so callers never share them with the
// store.
func cloneFlavor(f store.FlavorRecord) store.FlavorRecord {
	f.Pools = slices.Clone(f.Pools)
	f.Capabilities = slices.Clone(f.Capabilities)
	return f
}
