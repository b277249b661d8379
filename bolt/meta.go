package bolt

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's meta page (internal/common/meta.go): a 16-byte page header, then
// magic, version, page size, flags (4 bytes each), root bucket (16),
// freelist, high-water page id, txid (8 each) and an FNV-64a checksum of
// everything before it, in the machine's byte order (bbolt writes the
// struct as it is in memory). Two readers need it before bbolt opens a
// file: needsWalk (is the freelist missing?) and truncated (is the file
// shorter than its pages?).
const (
	metaOff     = 16
	metaMagic   = 0xED0CDAED
	metaVersion = 2
	metaSumEnd  = metaOff + 56 // the checksum covers the fields before it
	noFreelist  = ^uint64(0)
)

type metaPage struct {
	pageSize uint32
	freelist uint64
	pgid     uint64 // high-water page id
	txid     uint64
}

// readMeta reads and checks the meta page at off, as bbolt's Validate does.
func readMeta(r io.ReaderAt, off int64) (metaPage, bool) {
	var buf [metaSumEnd + 8]byte
	if n, err := r.ReadAt(buf[:], off); err != nil || n != len(buf) {
		return metaPage{}, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(buf[metaOff:]) != metaMagic || ne.Uint32(buf[metaOff+4:]) != metaVersion {
		return metaPage{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(buf[metaOff:metaSumEnd])
	if h.Sum64() != ne.Uint64(buf[metaSumEnd:]) {
		return metaPage{}, false
	}
	return metaPage{
		pageSize: ne.Uint32(buf[metaOff+8:]),
		freelist: ne.Uint64(buf[metaOff+32:]),
		pgid:     ne.Uint64(buf[metaOff+40:]),
		txid:     ne.Uint64(buf[metaOff+48:]),
	}, true
}

// newestMeta reads the meta page bbolt will use when it opens f: the valid
// one with the higher transaction id. It reports false when neither is
// valid (bbolt then refuses the file and says why).
func newestMeta(f *os.File) (metaPage, bool) {
	m0, ok0 := readMeta(f, 0)
	size := int64(os.Getpagesize())
	if ok0 {
		size = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, size)
	switch {
	case ok0 && ok1 && m1.txid > m0.txid:
		return m1, true
	case ok0:
		return m0, true
	case ok1:
		return m1, true
	}
	return metaPage{}, false
}
