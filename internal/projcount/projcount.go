// Package projcount keeps, for a pooled herald Service, how many queues
// each project has placed, so that Limits.MaxQueuesPerProject bounds a
// project's queues across all its pools (L1), not on each pool alone.
// Only that Service writes the catalog, so a project's count, once read
// from the catalog, is kept exact by the calls that place and unplace.
package projcount

import (
	"context"
	"sync"

	"github.com/heraldmq/herald/store"
)

// Counts is every project's count. The zero Counts is ready to use.
type Counts struct {
	mu sync.Mutex
	m  map[string]*Count
}

// Count is one project's count. It is locked from the check to the
// placement of a new queue, so two new queues of one project racing for
// its last slot are placed one after the other and the second is refused.
// It is a leaf lock: its holder takes no router lock.
type Count struct {
	mu     sync.Mutex
	loaded bool
	n      int
}

func (cs *Counts) get(project string) *Count {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = make(map[string]*Count)
	}
	c := cs.m[project]
	if c == nil {
		c = &Count{}
		cs.m[project] = c
	}
	return c
}

// Lock returns the project's count, locked and read from the catalog the
// first time (one walk of the project's placements per process). The
// caller unlocks it.
func (cs *Counts) Lock(ctx context.Context, cat store.Cataloger, project string) (*Count, error) {
	c := cs.get(project)
	c.mu.Lock()
	if err := c.load(ctx, cat, project); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	return c, nil
}

func (c *Count) load(ctx context.Context, cat store.Cataloger, project string) error {
	if c.loaded {
		return nil
	}
	n, marker := 0, ""
	for {
		page, err := cat.ListPlacements(ctx, store.ListPlacementsParams{Project: project, Marker: marker, Limit: 1000})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		n += len(page)
		marker = page[len(page)-1].Queue.Name
	}
	c.n, c.loaded = n, true
	return nil
}

// N is the count; c must be locked.
func (c *Count) N() int { return c.n }

// Inc counts a queue placed while c is locked.
func (c *Count) Inc() { c.n++ }

// Unlock ends Lock.
func (c *Count) Unlock() { c.mu.Unlock() }

// Add changes the project's count by delta, if it has been read (one not
// read yet is read from the catalog when next needed, and will include the
// change).
func (cs *Counts) Add(project string, delta int) {
	c := cs.get(project)
	c.mu.Lock()
	if c.loaded {
		c.n += delta
	}
	c.mu.Unlock()
}
