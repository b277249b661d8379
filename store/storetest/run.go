package storetest

import (
	"testing"

	"github.com/heraldmq/herald/store"
)

// Options describes the store under test. The zero value suits a store that
// is not durable and cannot corrupt its own data.
type Options struct {
	// Reopen, if set, closes s and opens the same data again, returning the
	// new store. Durable stores set it; it turns on the durability subtests
	// (C8, M2 across restarts, counters, metadata and dedup entries that
	// survive). Nil skips them.
	Reopen func(t *testing.T, s store.Store) store.Store
	// Corrupt, if set, damages the stored body of message id in queue q so
	// that its checksum no longer matches; it turns on the M11 subtests
	// (damaged messages set aside, store.DamageKeeper). Nil skips them.
	Corrupt func(t *testing.T, s store.Store, q store.QueueRef, id store.ID)
}

// subtest is one named check of a rule; the name starts with the rule id.
type subtest struct {
	name string
	fn   func(f *fixture)
}

// Run runs the conformance suite against the stores newStore makes: one
// subtest per rule of DESIGN.md §2 that a Store implements, each on a fresh
// store that the subtest closes when it ends.
func Run(t *testing.T, newStore func(tb testing.TB) store.Store, opts Options) {
	groups := [][]subtest{
		tenancyTests,
		queueTests,
		messageTests,
		listingTests,
		deleteTests,
		dedupTests,
		claimTests,
		fenceTests,
		deadLetterTests,
		attemptTests,
		damageTests,
		txTests,
		subscriptionTests,
		limitTests,
		catalogTests,
		sweepTests,
		durabilityTests,
		badInputTests,
		cancelTests,
		concurrencyTests,
	}
	for _, group := range groups {
		for _, st := range group {
			t.Run(st.name, func(t *testing.T) {
				st.fn(newFixture(t, newStore, opts))
			})
		}
	}
}
