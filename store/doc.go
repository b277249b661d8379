// Package store is the contract between herald and its storage backends:
// the Store interface, the records and params it exchanges, the ID type and
// the sentinel errors.
//
// Most code should use package herald, which wraps a Store with validation
// against configurable limits, a clock, blocking claims, and the background
// sweeper and scheduler. This package is for those who write a backend
// (herald ships memory and bolt) and for package herald itself.
//
// A backend implements Store and proves it with storetest.Run and
// storetest.Benchmark. It never reads the clock or starts goroutines: the
// caller passes Now in every params struct and drives background work
// through Sweep. Each method is one atomic step, so rules that span several
// records (claim selection, dead-letter moves, post with dedup,
// delete-with-claim checks) hold under concurrency.
//
// This package is the leaf of herald's import graph: it imports no other
// herald package, and backends import only it.
package store
