package herald

import (
	"context"
	"sync"

	"github.com/heraldmq/herald/store"
)

// projectCounts keeps, for a pooled Service, how many queues each project
// has placed, so that Limits.MaxQueuesPerProject bounds a project's queues
// across all its pools (L1), not on each pool alone. Only this Service
// writes the catalog (see router), so a project's count, once read from
// the catalog, is kept exact here by the calls that place and unplace.
type projectCounts struct {
	mu sync.Mutex
	m  map[string]*projectCount
}

// projectCount is one project's count. mu is held from the check to the
// placement of a new queue, so two new queues of one project racing for
// its last slot are placed one after the other and the second is refused.
// It is a leaf lock: its holder takes no router lock.
type projectCount struct {
	mu     sync.Mutex
	loaded bool
	n      int
}

func (pc *projectCounts) get(project string) *projectCount {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.m == nil {
		pc.m = make(map[string]*projectCount)
	}
	c := pc.m[project]
	if c == nil {
		c = &projectCount{}
		pc.m[project] = c
	}
	return c
}

// load reads the project's count from the catalog, the first time: one
// walk of the project's placements per process. c.mu must be held.
func (c *projectCount) load(ctx context.Context, cat store.Cataloger, project string) error {
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

// add changes a loaded count by delta (an unloaded one is read from the
// catalog when next needed, and will include the change).
func (c *projectCount) add(delta int) {
	c.mu.Lock()
	if c.loaded {
		c.n += delta
	}
	c.mu.Unlock()
}
