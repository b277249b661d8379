package bolt

import (
	"encoding/binary"
	"time"

	"github.com/heraldmq/herald/store"
)

// A message record is a fixed header, the client ID and the body:
//
//	created    int64   Unix ns
//	expires    int64
//	visibleAt  int64
//	claimID    [16]byte zero when not claimed
//	claimExp   int64
//	claimCount uint32
//	checksum   uint32  CRC32C of body (M11)
//	clientLen  uvarint, then clientID, then body (the rest)
//
// Fixed widths keep encode and decode allocation-free apart from the body
// copy handed to the caller.
const recHeader = 8 + 8 + 8 + 16 + 8 + 4 + 4

// rec is a decoded message record. body aliases the bbolt page until
// copied; it is only valid inside the transaction that read it.
type rec struct {
	created    int64
	expires    int64
	visibleAt  int64
	claim      store.ID
	claimExp   int64
	claimCount uint32
	sum        uint32
	clientID   []byte
	body       []byte
}

// encode returns r as a fresh record.
func (r *rec) encode() []byte {
	var lenBuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lenBuf[:], uint64(len(r.clientID)))
	b := make([]byte, recHeader+n+len(r.clientID)+len(r.body))
	binary.BigEndian.PutUint64(b[0:], uint64(r.created))
	binary.BigEndian.PutUint64(b[8:], uint64(r.expires))
	binary.BigEndian.PutUint64(b[16:], uint64(r.visibleAt))
	copy(b[24:40], r.claim[:])
	binary.BigEndian.PutUint64(b[40:], uint64(r.claimExp))
	binary.BigEndian.PutUint32(b[48:], r.claimCount)
	binary.BigEndian.PutUint32(b[52:], r.sum)
	p := recHeader
	p += copy(b[p:], lenBuf[:n])
	p += copy(b[p:], r.clientID)
	copy(b[p:], r.body)
	return b
}

// decodeRec parses a record. It never panics: a short or garbled record
// gives ErrCorrupt naming id.
func decodeRec(id store.ID, b []byte) (rec, error) {
	var r rec
	if len(b) < recHeader+1 {
		return r, store.Errorf(store.ErrCorrupt, "message %s: record of %d bytes is too short", id, len(b))
	}
	r.created = int64(binary.BigEndian.Uint64(b[0:]))
	r.expires = int64(binary.BigEndian.Uint64(b[8:]))
	r.visibleAt = int64(binary.BigEndian.Uint64(b[16:]))
	copy(r.claim[:], b[24:40])
	r.claimExp = int64(binary.BigEndian.Uint64(b[40:]))
	r.claimCount = binary.BigEndian.Uint32(b[48:])
	r.sum = binary.BigEndian.Uint32(b[52:])
	n, k := binary.Uvarint(b[recHeader:])
	rest := b[recHeader:]
	if k <= 0 || n > uint64(len(rest)-k) {
		return rec{}, store.Errorf(store.ErrCorrupt, "message %s: bad client id length", id)
	}
	rest = rest[k:]
	r.clientID = rest[:n:n]
	r.body = rest[n:]
	return r, nil
}

// message converts r to a store.Message as of now, copying the body and
// verifying its checksum (M11). An expired claim is not reported.
func (r *rec) message(id store.ID, now int64) (store.Message, error) {
	if store.Checksum(r.body) != r.sum {
		return store.Message{}, store.Errorf(store.ErrCorrupt, "message %s: body checksum mismatch", id)
	}
	m := store.Message{
		ID:         id,
		ClientID:   string(r.clientID),
		Created:    toTime(r.created),
		Expires:    toTime(r.expires),
		VisibleAt:  toTime(r.visibleAt),
		ClaimCount: int(r.claimCount),
		Checksum:   r.sum,
	}
	if len(r.body) > 0 {
		m.Body = append([]byte(nil), r.body...)
	}
	if r.claimed(now) {
		m.ClaimID = r.claim
		m.ClaimExpires = toTime(r.claimExp)
	}
	return m, nil
}

// claimed reports whether r is under a claim that is live at now.
func (r *rec) claimed(now int64) bool { return !r.claim.IsZero() && r.claimExp > now }

// A claim record: ttl, grace, updated, expires (int64 ns) and held, the
// number of messages it still holds.
const claimRecLen = 5 * 8

type claimRec struct {
	ttl, grace, updated, expires int64
	held                         int64
}

func (c *claimRec) encode() []byte {
	b := make([]byte, claimRecLen)
	binary.BigEndian.PutUint64(b[0:], uint64(c.ttl))
	binary.BigEndian.PutUint64(b[8:], uint64(c.grace))
	binary.BigEndian.PutUint64(b[16:], uint64(c.updated))
	binary.BigEndian.PutUint64(b[24:], uint64(c.expires))
	binary.BigEndian.PutUint64(b[32:], uint64(c.held))
	return b
}

func decodeClaim(id store.ID, b []byte) (claimRec, error) {
	if len(b) != claimRecLen {
		return claimRec{}, store.Errorf(store.ErrCorrupt, "claim %s: record of %d bytes, want %d", id, len(b), claimRecLen)
	}
	return claimRec{
		ttl:     int64(binary.BigEndian.Uint64(b[0:])),
		grace:   int64(binary.BigEndian.Uint64(b[8:])),
		updated: int64(binary.BigEndian.Uint64(b[16:])),
		expires: int64(binary.BigEndian.Uint64(b[24:])),
		held:    int64(binary.BigEndian.Uint64(b[32:])),
	}, nil
}

func (c *claimRec) info(id store.ID) store.ClaimInfo {
	return store.ClaimInfo{
		ID:      id,
		TTL:     time.Duration(c.ttl),
		Grace:   time.Duration(c.grace),
		Updated: toTime(c.updated),
		Expires: toTime(c.expires),
	}
}

// counts are a queue's stored counters, as of the last write that applied
// what was due.
type counts struct{ total, claimed, delayed int64 }

func (c counts) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[0:], uint64(c.total))
	binary.BigEndian.PutUint64(b[8:], uint64(c.claimed))
	binary.BigEndian.PutUint64(b[16:], uint64(c.delayed))
	return b
}

func decodeCounts(b []byte) (counts, error) {
	if len(b) != 24 {
		return counts{}, store.Errorf(store.ErrCorrupt, "queue counters of %d bytes, want 24", len(b))
	}
	return counts{
		total:   int64(binary.BigEndian.Uint64(b[0:])),
		claimed: int64(binary.BigEndian.Uint64(b[8:])),
		delayed: int64(binary.BigEndian.Uint64(b[16:])),
	}, nil
}

// timeKey returns t (clamped to >= 0, so big-endian order is time order)
// followed by suffix.
func timeKey(t int64, suffix []byte) []byte {
	b := make([]byte, 8+len(suffix))
	binary.BigEndian.PutUint64(b, uint64(max(t, 0)))
	copy(b[8:], suffix)
	return b
}

// keyTime returns the time prefix of a time key.
func keyTime(k []byte) int64 {
	if len(k) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k))
}

func int64Bytes(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func bytesInt64(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

func idOf(b []byte) store.ID {
	var id store.ID
	copy(id[:], b)
	return id
}

// pairKey is a ‖ b, two IDs: a claim and one of its messages.
func pairKey(a, b store.ID) []byte {
	k := make([]byte, 32)
	copy(k, a[:])
	copy(k[16:], b[:])
	return k
}

func toTime(n int64) time.Time { return time.Unix(0, n) }
