package herald

import (
	"context"
	"errors"

	"github.com/heraldmq/herald/internal/owner"
	"github.com/heraldmq/herald/store"
)

// Pool is a named store with a weight (P1). A Service made with
// Options.Pools places each new queue on one of its pools and keeps it
// there: queues never move.
type Pool struct {
	// Name follows the queue-name rule: 1–64 characters of
	// [A-Za-z0-9_.-]. Required; names are unique in a Service.
	Name string
	// Store holds the pool's queues. Required, and one store may back
	// only one pool. The Service owns it from New (or AddPool) on and
	// closes it on Close, or on RemovePool.
	Store store.Store
	// Weight is the pool's share of new queues (P2): a new queue goes to
	// an eligible pool chosen at random in proportion to weight. Zero
	// means the pool takes no new queues (it still serves those it has);
	// negative is invalid.
	Weight int
	// FlavorOnly keeps queues without a flavor off the pool: only a
	// flavor that names it places queues on it (P4). False means any new
	// queue may go to it.
	FlavorOnly bool
}

// PoolInfo describes a pool and what it holds.
type PoolInfo struct {
	Name       string
	Weight     int
	FlavorOnly bool
	// Queues is how many queues the catalog places on the pool, and
	// Messages the sum of their Stats.Total. Both are -1 for a Service
	// without a catalog (made with Options.Store). Counting costs one
	// catalog read per 1,000 queues and one QueueStats per queue.
	Queues   int64
	Messages int64
	// Size is the store's size in bytes if it implements store.Sizer (the
	// bolt store: its file size), else -1.
	Size int64
}

// pool is a configured pool. Its name and store never change; weight and
// flavorOnly are guarded by router.mu.
type pool struct {
	name       string
	store      store.Store
	weight     int
	flavorOnly bool
	// writes is what the store said of its last writes (health.go).
	writes writeState
}

// checkPool validates p against the pools already configured.
func checkPool(p Pool, have []*pool) error {
	if err := store.CheckPoolName(p.Name); err != nil {
		return err
	}
	if p.Store == nil {
		return store.Errorf(ErrInvalid, "pool %q: no store", p.Name)
	}
	if p.Weight < 0 {
		return store.Errorf(ErrInvalidLimit, "pool %q: weight %d: negative", p.Name, p.Weight)
	}
	for _, h := range have {
		if h.name == p.Name {
			return store.Errorf(ErrInvalid, "pool %q: the name is taken", p.Name)
		}
		if h.store == p.Store {
			return store.Errorf(ErrInvalid, "pool %q: its store is already pool %q's", p.Name, h.name)
		}
	}
	return nil
}

// AddPool adds a pool while the Service runs (P3); new queues may go to
// it at once, existing ones stay where they are. The Service owns p.Store
// from then on, unless AddPool fails. A name or store already in use
// (by this Service's pools or catalog, or by another live Service: B5),
// a negative weight or a bad name gives ErrInvalid; a store in use is
// still its holder's, not the caller's to close. A Service without a
// catalog (made with Options.Store) gives an errors.ErrUnsupported error.
func (s *Service) AddPool(ctx context.Context, p Pool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	r := s.router
	if r.cat == nil {
		return store.Errorf(errors.ErrUnsupported, "pool %q: this Service has no catalog; make it with Options.Pools to add pools", p.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := checkPool(p, r.pools); err != nil {
		return err
	}
	if r.catStore == p.Store {
		return store.Errorf(ErrInvalid, "pool %q: its store is the catalog's", p.Name)
	}
	if err := owner.Take(s, p.Store); err != nil {
		return err
	}
	np := &pool{name: p.Name, store: p.Store, weight: p.Weight, flavorOnly: p.FlavorOnly}
	r.setPools(append(r.pools[:len(r.pools):len(r.pools)], np))
	s.watchStore(np)
	s.notify.adopt(ctx, p.Store) // it may hold pending deliveries
	return nil
}

// SetPoolWeight changes a pool's weight (P3). It only changes where new
// queues go. A negative weight gives ErrInvalid, an unknown pool
// ErrNotFound.
func (s *Service) SetPoolWeight(ctx context.Context, name string, weight int) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	if weight < 0 {
		return store.Errorf(ErrInvalidLimit, "pool %q: weight %d: negative", name, weight)
	}
	r := s.router
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.named(name)
	if err != nil {
		return err
	}
	p.weight = weight
	return nil
}

// SetPoolFlavorOnly changes whether a pool keeps queues without a flavor
// off (Pool.FlavorOnly, P4). Like SetPoolWeight it only changes where new
// queues go. An unknown pool gives ErrNotFound.
func (s *Service) SetPoolFlavorOnly(ctx context.Context, name string, flavorOnly bool) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	r := s.router
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.named(name)
	if err != nil {
		return err
	}
	p.flavorOnly = flavorOnly
	return nil
}

// RemovePool removes a pool and closes its store (P3). A pool the catalog
// still places a queue on gives ErrPoolInUse (delete its queues first),
// and so does the pool whose store holds the catalog; an unknown pool
// gives ErrNotFound. A flavor that names a removed pool keeps its other
// pools. The error of closing the store, if any, is returned after the
// pool is gone.
func (s *Service) RemovePool(ctx context.Context, name string) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	r := s.router
	if r.cat == nil {
		return store.Errorf(errors.ErrUnsupported, "pool %q: this Service has no catalog; its one pool cannot be removed", name)
	}
	r.mu.Lock()
	p, err := r.named(name)
	if err == nil && p.store == r.catStore {
		err = store.Errorf(ErrPoolInUse, "pool %q: its store holds the catalog", name)
	}
	if err == nil {
		var held []store.Placement
		held, err = r.cat.PoolPlacements(ctx, store.PoolPlacementsParams{Pool: name, Limit: 1})
		if err == nil && len(held) > 0 {
			err = store.Errorf(ErrPoolInUse, "pool %q: holds queues, such as %q in project %q", name, held[0].Queue.Name, held[0].Queue.Project)
		}
	}
	if err != nil {
		r.mu.Unlock()
		return err
	}
	rest := make([]*pool, 0, len(r.pools)-1)
	for _, q := range r.pools {
		if q != p {
			rest = append(rest, q)
		}
	}
	r.setPools(rest)
	r.mu.Unlock()
	defer owner.Give(s, p.store)
	return p.store.Close()
}

// Pools describes every pool, in the order they were added, with their
// stats; see PoolInfo for what counting costs.
func (s *Service) Pools(ctx context.Context) ([]PoolInfo, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	out := make([]PoolInfo, 0, len(s.router.snapshot()))
	for _, p := range s.router.snapshot() {
		info, err := s.poolInfo(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Pool describes one pool with its stats, or returns ErrNotFound.
func (s *Service) Pool(ctx context.Context, name string) (PoolInfo, error) {
	if err := s.gate.Enter(); err != nil {
		return PoolInfo{}, err
	}
	defer s.gate.Leave()
	r := s.router
	r.mu.RLock()
	p, err := r.named(name)
	r.mu.RUnlock()
	if err != nil {
		return PoolInfo{}, err
	}
	return s.poolInfo(ctx, p)
}

func (s *Service) poolInfo(ctx context.Context, p *pool) (PoolInfo, error) {
	r := s.router
	r.mu.RLock()
	info := PoolInfo{Name: p.name, Weight: p.weight, FlavorOnly: p.flavorOnly, Queues: -1, Messages: -1, Size: -1}
	r.mu.RUnlock()
	if sz, ok := p.store.(store.Sizer); ok {
		n, err := sz.Size(ctx)
		if err != nil {
			return PoolInfo{}, err
		}
		info.Size = n
	}
	if r.cat == nil {
		return info, nil
	}
	info.Queues, info.Messages = 0, 0
	var after store.QueueRef
	for {
		page, err := r.cat.PoolPlacements(ctx, store.PoolPlacementsParams{Pool: p.name, After: after, Limit: 1000})
		if err != nil {
			return PoolInfo{}, err
		}
		if len(page) == 0 {
			return info, nil
		}
		for _, pl := range page {
			info.Queues++
			st, err := p.store.QueueStats(ctx, store.QueueStatsParams{Queue: pl.Queue, Now: s.now()})
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return PoolInfo{}, err
			}
			info.Messages += st.Total
		}
		after = page[len(page)-1].Queue
	}
}
