package bolt

import (
	"os"
	"runtime"

	"github.com/heraldmq/herald/store"
)

// damaged is the ErrCorrupt for a file bbolt could not read: v is what it
// panicked with, or its error. The error says what is damaged rather than
// how bbolt noticed: a file shorter than its pages (bbolt maps it and
// faults past the end, "invalid memory address or nil pointer
// dereference") is reported as truncated, with its size and the size its
// meta page asks for.
func damaged(path string, v any) error {
	if err := truncated(path); err != nil {
		return err
	}
	if _, ok := v.(runtime.Error); ok {
		return store.Errorf(store.ErrCorrupt, "bolt file %s is damaged: a page could not be read (memory fault)", path)
	}
	return store.Errorf(store.ErrCorrupt, "bolt file %s is damaged: %v", path, v)
}

// truncated reports ErrCorrupt if the file at path is shorter than its
// pages: its newest valid meta page records the high-water page id, and a
// bbolt file is always grown to hold every page below it before a meta
// page naming it is written. It reports nil when the file cannot be read or
// has no valid meta page (bbolt says what is wrong then).
func truncated(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	m, ok := newestMeta(f)
	if !ok {
		return nil
	}
	need := int64(m.pgid) * int64(m.pageSize)
	if m.pgid > 1<<40 || fi.Size() >= need {
		return nil
	}
	return store.Errorf(store.ErrCorrupt, "bolt file %s is damaged: truncated (size %d bytes, expected at least %d)", path, fi.Size(), need)
}
