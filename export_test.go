package herald

import (
	"context"

	"github.com/heraldmq/herald/store"
)

// MetadataTries lets external tests check UpdateMetadata's bound without
// repeating it.
const MetadataTries = metadataTries

// Sleepers reports how many blocked claimers sleep on the default
// project's queue name (claimers trying the store are not counted).
func Sleepers(s *Service, name string) int {
	s.waiters.mu.Lock()
	defer s.waiters.mu.Unlock()
	if q := s.waiters.byRef[store.QueueRef{Name: name}]; q != nil {
		return q.sleepers.Len()
	}
	return 0
}

// OnWoken makes fn run in every blocked claimer that gets a wake, before
// it checks its ctx and tries the store. Set it before any claim waits.
func OnWoken(s *Service, fn func(context.Context)) { s.waiters.woken = fn }
