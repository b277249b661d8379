package bolt

import (
	"encoding/binary"
	"hash/fnv"
	"io"
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
	m0, ok0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, pageSize)
	m := m0
	switch {
	case ok0 && ok1:
		if m1.txid > m0.txid {
			m = m1
		}
	case ok1:
		m = m1
	case !ok0:
		return nil
	}
	need := int64(m.pgid) * int64(m.pageSize)
	if m.pgid > 1<<40 || fi.Size() >= need {
		return nil
	}
	return store.Errorf(store.ErrCorrupt, "bolt file %s is damaged: truncated (size %d bytes, expected at least %d)", path, fi.Size(), need)
}

// meta is what truncated needs of a bbolt meta page.
type meta struct {
	pageSize   uint32
	pgid, txid uint64
}

// bbolt's meta page: a 16-byte page header, then magic, version, page
// size, flags (4 bytes each), root bucket (16), freelist, high-water page
// id, txid (8 each) and an FNV-64a checksum of everything before it, in
// the machine's byte order (bbolt writes the struct as it is in memory).
const (
	metaOffset   = 16
	metaSumStart = 56
	metaMagic    = 0xED0CDAED
	metaVersion  = 2
)

// readMeta reads and validates the meta page at off.
func readMeta(r io.ReaderAt, off int64) (meta, bool) {
	var b [metaOffset + metaSumStart + 8]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return meta{}, false
	}
	m := b[metaOffset:]
	e := binary.NativeEndian
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSumStart])
	if e.Uint32(m[0:]) != metaMagic || e.Uint32(m[4:]) != metaVersion || e.Uint64(m[metaSumStart:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{pageSize: e.Uint32(m[8:]), pgid: e.Uint64(m[40:]), txid: e.Uint64(m[48:])}, true
}
