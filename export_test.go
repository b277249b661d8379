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
	return s.waiters.Sleepers(store.QueueRef{Name: name})
}

// OnWoken makes fn run in every blocked claimer that gets a wake, before
// it checks its ctx and tries the store. Set it before any claim waits.
func OnWoken(s *Service, fn func(context.Context)) { s.waiters.Woken = fn }
