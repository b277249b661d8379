package bolt

import (
	"os"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// bbolt's freelist (issue 14 item 7). By default bbolt writes the whole
// freelist, 8 bytes per free page, with every commit: a file that once
// held a large backlog and drained it carries tens of thousands of free
// pages, and wrote ~130 KiB more per commit at 80 MiB and ~325 KiB at
// 176 MiB, which halved its throughput against a fresh file
// (BenchmarkWornFile). So the store runs with NoFreelistSync, as etcd does.
// That costs no durability: each commit still fsyncs its pages and then
// the meta page (D1), and the free pages are exactly those the tree does
// not reach, which bbolt works out by walking the tree when it opens a file
// whose freelist was not written.
//
// Two things keep that walk cheap and safe:
//   - Close writes the freelist once (syncFreelistOnClose), so a file
//     closed cleanly opens at once, as before; only a file left by a crash
//     (or a kill) is walked.
//   - bbolt walks in a goroutine of its own, where a damaged page is a
//     panic or a memory fault no recover can catch (D4 says ErrCorrupt,
//     never a crash). So before bbolt opens a file that needs the walk,
//     prewalk reads every page it will in a read-only open on this
//     goroutine, under faultsPanic, turning damage into ErrCorrupt.

// needsWalk reports whether bbolt will rebuild the freelist of the file at
// path when it opens it: the meta page it will use records none. A file
// that is missing or whose meta pages do not check is bbolt's to refuse,
// so it reports false.
func needsWalk(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	m, ok := newestMeta(f)
	return ok && m.freelist == noFreelist
}

// prewalk reads every page of the file at path that bbolt's freelist walk
// will, in a read-only open on this goroutine, so that damage gives
// ErrCorrupt here rather than a crash in bbolt's goroutine.
func prewalk(path string, o Options) (err error) {
	db, err := bbolt.Open(path, o.FileMode, &bbolt.Options{ReadOnly: true, Timeout: o.Timeout})
	if err != nil {
		return openError(path, err)
	}
	defer db.Close()
	defer faultsPanic()()
	defer func() {
		if v := recover(); v != nil {
			err = store.Errorf(store.ErrCorrupt, "%s: %v", path, v)
		}
	}()
	return db.View(func(tx *bbolt.Tx) error {
		if err := touchPages(tx); err != nil {
			return store.Errorf(store.ErrCorrupt, "%s: %v", path, err)
		}
		return nil
	})
}

// syncFreelistOnClose commits once with the freelist written, so that the
// next Open reads it rather than walking the file. It is best effort, like
// saveClock: on a full or read-only disk Close still closes, and the next
// Open walks.
func (s *Store) syncFreelistOnClose() {
	defer faultsPanic()()
	defer func() { _ = recover() }() // a damaged file: Close still closes
	_ = s.db.Update(func(tx *bbolt.Tx) error {
		// Only this commit reads the field: it holds the writer lock.
		tx.DB().NoFreelistSync = false
		return nil
	})
}
