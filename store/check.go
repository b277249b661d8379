package store

import (
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxQueueNameLen and MaxProjectLen bound names (Q1, T1).
const (
	MaxQueueNameLen = 64
	MaxProjectLen   = 256
)

// CheckQueueName reports ErrInvalidName unless name is 1–64 characters of
// [A-Za-z0-9_.-] (Q1).
func CheckQueueName(name string) error { return checkName("queue name", name) }

// CheckPoolName reports ErrInvalidName unless name follows the queue-name
// rule (P1): 1–64 characters of [A-Za-z0-9_.-].
func CheckPoolName(name string) error { return checkName("pool name", name) }

// CheckFlavorName reports ErrInvalidName unless name follows the
// queue-name rule (P4): 1–64 characters of [A-Za-z0-9_.-].
func CheckFlavorName(name string) error { return checkName("flavor name", name) }

// checkName applies the queue-name rule to a name of kind what.
func checkName(what, name string) error {
	if name == "" {
		return Errorf(ErrInvalidName, "%s is empty", what)
	}
	// Characters first, by rune: a name in another script is refused for
	// its first character (shown as itself, not as the byte that starts
	// it), not for a byte length it never meant.
	for i, r := range name {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(name[i:], "\uFFFD"):
			return Errorf(ErrInvalidName, "%s %q: invalid UTF-8 at byte %d", what, name, i)
		case r >= utf8.RuneSelf || !nameChar(byte(r)):
			return Errorf(ErrInvalidName, "%s %q: invalid character %q", what, name, r)
		}
	}
	if len(name) > MaxQueueNameLen {
		return Errorf(ErrInvalidName, "%s %q: longer than %d characters", what, name, MaxQueueNameLen)
	}
	return nil
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// CheckProject reports ErrInvalidName unless p is at most 256 bytes of valid
// UTF-8 with no '/' and no control characters (T1). "" is the default
// project.
func CheckProject(p string) error {
	if len(p) > MaxProjectLen {
		return Errorf(ErrInvalidName, "project %q: longer than %d bytes", p, MaxProjectLen)
	}
	if !utf8.ValidString(p) {
		return Errorf(ErrInvalidName, "project %q: invalid UTF-8", p)
	}
	for i, r := range p {
		switch {
		case r == '/':
			return Errorf(ErrInvalidName, "project %q: invalid character '/'", p)
		case unicode.IsControl(r):
			return Errorf(ErrInvalidName, "project %q: control character at byte %d", p, i)
		}
	}
	return nil
}

// maxUnixNano is the last instant stores can represent as int64 nanoseconds.
var maxUnixNano = time.Unix(0, math.MaxInt64)

// Deadline returns now+d, or ErrInvalidTTL if d is negative or the result
// would not fit in int64 Unix nanoseconds (M4: never an overflowing
// deadline). what names the duration in the error.
func Deadline(now time.Time, d time.Duration, what string) (time.Time, error) {
	if d < 0 {
		return time.Time{}, Errorf(ErrInvalidTTL, "%s %v: negative", what, d)
	}
	if now.After(maxUnixNano.Add(-d)) {
		return time.Time{}, Errorf(ErrInvalidTTL, "%s %v: deadline after %v", what, d, maxUnixNano.UTC())
	}
	return now.Add(d), nil
}

// CheckLimit reports ErrInvalidLimit unless n >= 1.
func CheckLimit(n int, what string) error {
	if n < 1 {
		return Errorf(ErrInvalidLimit, "%s must be at least 1, got %d", what, n)
	}
	return nil
}

// CheckIDs reports ErrInvalidID if one of ids is the zero ID. The zero ID
// names nothing, so a call that names it is the caller's mistake, not a
// missing message: without this check it read as "message  is gone" or
// "not found" with an empty id. what names the ids ("message id").
func CheckIDs(what string, ids ...ID) error {
	for i, id := range ids {
		if !id.IsZero() {
			continue
		}
		if len(ids) == 1 {
			return Errorf(ErrInvalidID, "%s: zero id", what)
		}
		return Errorf(ErrInvalidID, "%s %d of %d: zero id", what, i+1, len(ids))
	}
	return nil
}
