// Package storetest is the conformance suite and the shared benchmarks for
// herald storage backends. It is for those who write a store.Store (herald
// ships memory and bolt); users of package herald never need it.
//
// A backend proves itself by running both from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB) store.Store { return memory.New() }, storetest.Options{})
//	}
//
//	func BenchmarkStore(b *testing.B) {
//		storetest.Benchmark(b, func(tb testing.TB) store.Store { return memory.New() }, storetest.BenchOptions{})
//	}
//
// Run makes one subtest per rule of DESIGN.md §2 that a Store implements,
// named after the rule ("Q2/CreateExistingKeepsMetadata"), so a failure
// cites the rule it breaks. Each subtest gets a fresh store from newStore
// and closes it when done. Durable stores set Options.Reopen to turn on the
// restart subtests (C8, M2 across restarts); stores that can damage a body
// on purpose set Options.Corrupt to turn on the integrity subtests (M11).
// The transaction subtests (X1) run when the store implements
// store.Transactor and are skipped otherwise.
//
// The suite never sleeps and never reads the clock: every call passes an
// explicit Now, and "time passing" is a later Now. Within a subtest Now only
// moves forward, except where a subtest checks that a clock stepping back
// revives nothing.
package storetest
