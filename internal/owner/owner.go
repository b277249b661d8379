// Package owner records which live herald Service holds each store (B5).
// A store serves one Service: blocked claimers, the claim scheduler and
// push delivery are woken by the Service that made a change, so a second
// Service over the same store would not see the first one's posts, and
// either one's Close would close the store under the other.
package owner

import (
	"reflect"
	"sync"

	"github.com/heraldmq/herald/store"
)

// owners maps each tracked store to its holder. New and AddPool refuse a
// store that another live Service holds; a store leaves the record when
// its Service closes it (Close, RemovePool).
var owners = struct {
	sync.Mutex
	of map[store.Store]any
}{of: make(map[store.Store]any)}

// Take records sts as holder's, all or none, or refuses with ErrInvalid
// when another holder has one. A store that cannot be a map key is not
// tracked.
func Take(holder any, sts ...store.Store) error {
	owners.Lock()
	defer owners.Unlock()
	for _, st := range sts {
		if !tracked(st) {
			continue
		}
		if o := owners.of[st]; o != nil && o != holder {
			return store.Errorf(store.ErrInvalid, "store %T is used by another Service: a store serves one Service until that Service closes it", st)
		}
	}
	for _, st := range sts {
		if tracked(st) {
			owners.of[st] = holder
		}
	}
	return nil
}

// Give forgets sts, which holder has closed or given up.
func Give(holder any, sts ...store.Store) {
	owners.Lock()
	defer owners.Unlock()
	for _, st := range sts {
		if tracked(st) && owners.of[st] == holder {
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
