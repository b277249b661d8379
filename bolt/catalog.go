package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

var (
	_ store.Cataloger = (*Store)(nil)
	_ store.Sizer     = (*Store)(nil)
)

// The catalog (store.Cataloger) lives in its own top-level bucket, made by
// the first write, with three nested buckets:
//
//	placements  project "/" name → placement (JSON: pool, created)
//	bypool      pool 0 project 0 name → nothing: the placements by pool
//	            (NUL separators sort below every byte a project may hold,
//	            so a pool's keys are in (project, name) order)
//	flavors     project "/" name → flavor (JSON: pools, capabilities)
//
// Names have no '/' (pool and flavor names follow the queue-name rule, and
// projects exclude it), so each project's and each pool's keys are one
// range.
var (
	bkCatalog    = []byte("catalog")
	bkPlacements = []byte("placements")
	bkByPool     = []byte("bypool")
	bkFlavors    = []byte("flavors")
)

type placementValue struct {
	Pool    string `json:"pool"`
	Created int64  `json:"created"`
}

type flavorValue struct {
	Pools        []string `json:"pools"`
	Capabilities []string `json:"capabilities,omitempty"`
}

func joinKey(parts ...string) []byte { return []byte(strings.Join(parts, "/")) }

// byPoolKey is a placement's key in the bypool bucket.
func byPoolKey(pool string, q store.QueueRef) []byte {
	return []byte(pool + "\x00" + q.Project + "\x00" + q.Name)
}

// catalogRead returns the nested catalog bucket name in tx, or nil if the
// catalog was never written.
func catalogRead(tx *bbolt.Tx, name []byte) *bbolt.Bucket {
	c := tx.Bucket(bkCatalog)
	if c == nil {
		return nil
	}
	return c.Bucket(name)
}

// catalogWrite returns the nested catalog bucket name in w, creating the
// catalog on first use.
func catalogWrite(w *wtx, name []byte) (*bbolt.Bucket, error) {
	c, err := w.tx.CreateBucketIfNotExists(bkCatalog)
	if err != nil {
		return nil, err
	}
	return c.CreateBucketIfNotExists(name)
}

func decodePlacement(q store.QueueRef, v []byte) (store.Placement, error) {
	var pv placementValue
	if err := json.Unmarshal(v, &pv); err != nil {
		return store.Placement{}, store.Errorf(store.ErrCorrupt, "placement of queue %q in project %q: %v", q.Name, q.Project, err)
	}
	return store.Placement{Queue: q, Pool: pv.Pool, Created: toTime(pv.Created)}, nil
}

// GetPlacement returns a queue's placement, or ErrNotFound.
func (s *Store) GetPlacement(ctx context.Context, q store.QueueRef) (store.Placement, error) {
	if err := ctx.Err(); err != nil {
		return store.Placement{}, err
	}
	if err := q.Check(); err != nil {
		return store.Placement{}, err
	}
	var p store.Placement
	err := s.view(func(tx *bbolt.Tx) error {
		var v []byte
		if b := catalogRead(tx, bkPlacements); b != nil {
			v = b.Get(queueKey(q))
		}
		if v == nil {
			return store.Errorf(store.ErrNotFound, "placement of queue %q in project %q not found", q.Name, q.Project)
		}
		var err error
		p, err = decodePlacement(q, v)
		return err
	})
	return p, err
}

// PutPlacement records or replaces a placement, in one commit.
func (s *Store) PutPlacement(ctx context.Context, p store.Placement) error {
	if err := p.Check(); err != nil {
		return err
	}
	v, err := json.Marshal(placementValue{Pool: p.Pool, Created: store.Nanos(p.Created)})
	if err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		if err := deletePlacement(w, p.Queue); err != nil {
			return err
		}
		pl, err := catalogWrite(w, bkPlacements)
		if err != nil {
			return err
		}
		bp, err := catalogWrite(w, bkByPool)
		if err != nil {
			return err
		}
		if err := pl.Put(queueKey(p.Queue), v); err != nil {
			return err
		}
		return bp.Put(byPoolKey(p.Pool, p.Queue), []byte{})
	})
}

// DeletePlacement removes a placement; a missing one is not an error.
func (s *Store) DeletePlacement(ctx context.Context, q store.QueueRef) error {
	if err := q.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error { return deletePlacement(w, q) })
}

// deletePlacement removes q's placement and its by-pool entry, if any.
func deletePlacement(w *wtx, q store.QueueRef) error {
	c := w.tx.Bucket(bkCatalog)
	if c == nil {
		return nil
	}
	pl, bp := c.Bucket(bkPlacements), c.Bucket(bkByPool)
	if pl == nil || bp == nil {
		return nil
	}
	v := pl.Get(queueKey(q))
	if v == nil {
		return nil
	}
	old, err := decodePlacement(q, v)
	if err != nil {
		return err
	}
	if err := bp.Delete(byPoolKey(old.Pool, q)); err != nil {
		return err
	}
	return pl.Delete(queueKey(q))
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
	return listProject(s, bkPlacements, p.Project, p.Marker, p.Limit, func(name string, v []byte) (store.Placement, error) {
		return decodePlacement(store.QueueRef{Project: p.Project, Name: name}, v)
	})
}

// PoolPlacements lists the placements on one pool after p.After.
func (s *Store) PoolPlacements(ctx context.Context, p store.PoolPlacementsParams) ([]store.Placement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	var out []store.Placement
	err := s.view(func(tx *bbolt.Tx) error {
		bp, pl := catalogRead(tx, bkByPool), catalogRead(tx, bkPlacements)
		if bp == nil || pl == nil {
			return nil
		}
		prefix := []byte(p.Pool + "\x00")
		after := byPoolKey(p.Pool, p.After)
		c := bp.Cursor()
		for k, _ := c.Seek(after); k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, _ = c.Next() {
			if bytes.Equal(k, after) {
				continue
			}
			project, name, ok := strings.Cut(string(k[len(prefix):]), "\x00")
			if !ok {
				return store.Errorf(store.ErrCorrupt, "catalog: bad by-pool key %q", k)
			}
			q := store.QueueRef{Project: project, Name: name}
			v := pl.Get(queueKey(q))
			if v == nil {
				return store.Errorf(store.ErrCorrupt, "catalog: by-pool key %q without its placement", k)
			}
			placement, err := decodePlacement(q, v)
			if err != nil {
				return err
			}
			out = append(out, placement)
		}
		return nil
	})
	return out, err
}

// GetFlavor returns a project's flavor, or ErrNotFound.
func (s *Store) GetFlavor(ctx context.Context, project, name string) (store.FlavorRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.FlavorRecord{}, err
	}
	if err := checkFlavorKey(project, name); err != nil {
		return store.FlavorRecord{}, err
	}
	var f store.FlavorRecord
	err := s.view(func(tx *bbolt.Tx) error {
		var v []byte
		if b := catalogRead(tx, bkFlavors); b != nil {
			v = b.Get(joinKey(project, name))
		}
		if v == nil {
			return store.Errorf(store.ErrNotFound, "flavor %q in project %q not found", name, project)
		}
		var err error
		f, err = decodeFlavor(project, name, v)
		return err
	})
	return f, err
}

func decodeFlavor(project, name string, v []byte) (store.FlavorRecord, error) {
	var fv flavorValue
	if err := json.Unmarshal(v, &fv); err != nil {
		return store.FlavorRecord{}, store.Errorf(store.ErrCorrupt, "flavor %q in project %q: %v", name, project, err)
	}
	return store.FlavorRecord{Project: project, Name: name, Pools: fv.Pools, Capabilities: fv.Capabilities}, nil
}

// PutFlavor records or replaces a flavor, in one commit.
func (s *Store) PutFlavor(ctx context.Context, f store.FlavorRecord) error {
	if err := f.Check(); err != nil {
		return err
	}
	v, err := json.Marshal(flavorValue{Pools: f.Pools, Capabilities: f.Capabilities})
	if err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		b, err := catalogWrite(w, bkFlavors)
		if err != nil {
			return err
		}
		return b.Put(joinKey(f.Project, f.Name), v)
	})
}

// DeleteFlavor removes a flavor; a missing one is not an error.
func (s *Store) DeleteFlavor(ctx context.Context, project, name string) error {
	if err := checkFlavorKey(project, name); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		if b := w.tx.Bucket(bkCatalog); b != nil {
			if fb := b.Bucket(bkFlavors); fb != nil {
				return fb.Delete(joinKey(project, name))
			}
		}
		return nil
	})
}

// ListFlavors lists a project's flavors in name order after the marker.
func (s *Store) ListFlavors(ctx context.Context, p store.ListFlavorsParams) ([]store.FlavorRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return listProject(s, bkFlavors, p.Project, p.Marker, p.Limit, func(name string, v []byte) (store.FlavorRecord, error) {
		return decodeFlavor(p.Project, name, v)
	})
}

// listProject decodes up to limit records of catalog bucket bk keyed
// project + "/" + name, in name order after marker.
func listProject[T any](s *Store, bk []byte, project, marker string, limit int, decode func(name string, v []byte) (T, error)) ([]T, error) {
	var out []T
	err := s.view(func(tx *bbolt.Tx) error {
		b := catalogRead(tx, bk)
		if b == nil {
			return nil
		}
		prefix := []byte(project + "/")
		c := b.Cursor()
		for k, v := c.Seek(append(bytes.Clone(prefix), marker...)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			name := string(k[len(prefix):])
			if name == marker {
				continue
			}
			r, err := decode(name, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

func checkFlavorKey(project, name string) error {
	if err := store.CheckProject(project); err != nil {
		return err
	}
	return store.CheckFlavorName(name)
}

// Size returns the size of the store file in bytes (store.Sizer).
func (s *Store) Size(context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed()
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
