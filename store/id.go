package store

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID identifies a message or a claim. It is a ULID: 48 bits of Unix
// milliseconds then 80 bits that make it unique. The zero ID means "none".
type ID [16]byte

// ParseID parses the 26-character text form of an ID. Anything else gives
// ErrInvalidID, and so does the all-zero text: the zero ID means "none",
// so a claim ID read from outside can never pass for "no claim".
func ParseID(s string) (ID, error) {
	u, err := ulid.ParseStrict(s)
	if err != nil {
		return ID{}, Errorf(ErrInvalidID, "id %q: %v", s, err)
	}
	if ID(u).IsZero() {
		return ID{}, Errorf(ErrInvalidID, "id %q: the zero id names nothing", s)
	}
	return ID(u), nil
}

// String returns the 26-character text form, or "" for the zero ID.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return ulid.ULID(id).String()
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Time returns the millisecond timestamp embedded in id.
func (id ID) Time() time.Time { return ulid.Time(ulid.ULID(id).Time()) }

// Compare returns -1, 0 or +1 as id sorts before, equal to or after other.
// IDs sort in the order they were issued.
func (id ID) Compare(other ID) int { return ulid.ULID(id).Compare(ulid.ULID(other)) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; "" gives the zero ID.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// IDSource issues IDs that strictly increase in the order Next is called,
// even when the clock steps back (M2): within a millisecond that is not
// after the last ID's, the next ID is the last one plus one. A durable store
// calls Observe with the largest ID it holds when it reopens so IDs keep
// increasing across restarts. An IDSource is not safe for concurrent use;
// stores call it inside their critical section or transaction, which is
// what makes IDs increase in commit order.
type IDSource struct {
	last ID
	rng  *rand.ChaCha8
}

// NewIDSource returns an IDSource seeded from crypto/rand.
func NewIDSource() *IDSource {
	var seed [32]byte
	_, _ = cryptorand.Read(seed[:]) // never fails on supported platforms
	return &IDSource{rng: rand.NewChaCha8(seed)}
}

// Observe makes every later ID sort after id.
func (s *IDSource) Observe(id ID) {
	if id.Compare(s.last) > 0 {
		s.last = id
	}
}

// Last returns the largest ID issued or observed.
func (s *IDSource) Last() ID { return s.last }

// Next returns a new ID greater than every ID issued or observed.
func (s *IDSource) Next(now time.Time) ID {
	ms := now.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	if uint64(ms) > ulid.MaxTime() {
		ms = int64(ulid.MaxTime())
	}
	var id ID
	if uint64(ms) > ulid.ULID(s.last).Time() {
		binary.BigEndian.PutUint64(id[:8], uint64(ms)<<16)
		binary.BigEndian.PutUint16(id[6:8], uint16(s.rng.Uint64()))
		binary.BigEndian.PutUint64(id[8:], s.rng.Uint64())
	} else {
		id = s.last
		for i := len(id) - 1; i >= 0; i-- { // big-endian increment
			id[i]++
			if id[i] != 0 {
				break
			}
		}
	}
	s.last = id
	return id
}
