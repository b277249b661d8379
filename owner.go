package herald

import (
	"reflect"
	"sync"

	"github.com/heraldmq/herald/store"
)

// owners records which live Service holds each store. A store serves one
// Service: blocked claimers, the claim scheduler and push delivery are
// woken by the Service that made a change, so a second Service over the
// same store would not see the first one's posts (its blocked claimers
// would sleep out their whole Wait), and either one's Close would close
// the store under the other. New and AddPool refuse a store that another
// live Service holds; a store leaves the record when its Service closes
// it (Close, RemovePool).
var owners = struct {
	sync.Mutex
	of map[store.Store]*Service
}{of: make(map[store.Store]*Service)}

// own records sts as s's, all or none, or says which one another Service
// holds. A store that cannot be a map key is not tracked.
func (s *Service) own(sts ...store.Store) error {
	owners.Lock()
	defer owners.Unlock()
	for _, st := range sts {
		if !tracked(st) {
			continue
		}
		if o := owners.of[st]; o != nil && o != s {
			return store.Errorf(ErrInvalid, "store %T is used by another Service: a store serves one Service until that Service closes it", st)
		}
	}
	for _, st := range sts {
		if tracked(st) {
			owners.of[st] = s
		}
	}
	return nil
}

// disown forgets sts, which s has closed or given up.
func (s *Service) disown(sts ...store.Store) {
	owners.Lock()
	defer owners.Unlock()
	for _, st := range sts {
		if tracked(st) && owners.of[st] == s {
			delete(owners.of, st)
		}
	}
}

// tracked reports whether st can be a map key. The value decides, not its
// type: a struct passed by value has a comparable type even when an
// interface field holds a slice, and hashing that value panics.
func tracked(st store.Store) bool {
	return st != nil && reflect.ValueOf(st).Comparable()
}

// stores lists every store the router holds: its pools' and the catalog's.
func (r *router) stores() []store.Store {
	r.mu.Lock()
	defer r.mu.Unlock()
	sts := make([]store.Store, 0, len(r.pools)+1)
	for _, p := range r.pools {
		sts = append(sts, p.store)
	}
	if r.catStore != nil {
		sts = append(sts, r.catStore)
	}
	return sts
}
