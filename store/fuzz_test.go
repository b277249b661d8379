package store_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// queueNameSpec is Q1 as written: 1–64 characters of [A-Za-z0-9_.-].
var queueNameSpec = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Q1: CheckQueueName accepts exactly what the spec's regexp accepts, and
// rejects the rest with ErrInvalidName (never a panic). Seeds run in CI;
// testdata/fuzz/FuzzQueueName holds the interesting ones.
func FuzzQueueName(f *testing.F) {
	for _, s := range []string{"jobs", "a", strings.Repeat("x", 64), strings.Repeat("x", 65), "", "a/b", "é", "a b", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := store.CheckQueueName(name)
		if queueNameSpec.MatchString(name) {
			require.NoError(t, err, "%q", name)
			require.NoError(t, store.QueueRef{Name: name}.Check())
			return
		}
		require.ErrorIs(t, err, store.ErrInvalidName, "%q", name)
		require.ErrorIs(t, err, store.ErrInvalid)
	})
}

// projectSpec is T1 as written: no '/', no control characters (Unicode
// Cc). Length (≤ 256 bytes) and valid UTF-8 (the documented reading of
// "characters") are checked beside it, since Go's regexp reads invalid
// bytes as U+FFFD.
var projectSpec = regexp.MustCompile(`^[^/\p{Cc}]*$`)

// T1: CheckProject accepts exactly the spec's projects, "" included, and
// rejects the rest with ErrInvalidName.
func FuzzProject(f *testing.F) {
	for _, s := range []string{"", "tenant-1", "Ωmega", strings.Repeat("p", 256), strings.Repeat("p", 257),
		"a/b", "a\nb", "\x7f", "\u0085", "\xff", "\u200b", strings.Repeat("é", 128), strings.Repeat("é", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := store.CheckProject(p)
		if len(p) <= store.MaxProjectLen && utf8.ValidString(p) && projectSpec.MatchString(p) {
			require.NoError(t, err, "%q", p)
			return
		}
		require.ErrorIs(t, err, store.ErrInvalidName, "%q", p)
		require.ErrorIs(t, store.QueueRef{Project: p, Name: "q"}.Check(), store.ErrInvalidName)
	})
}

// crockford is the ULID alphabet, in either case.
var crockford = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$`)

// M2, C3: ParseID accepts exactly the 26-character ULID text of a non-zero
// ID (the zero ID means "none" and is not a valid id), and String gives
// text ParseID reads back to the same ID. Everything else → ErrInvalidID.
// The fuzz input is also read as 16 raw bytes to check String ∘ ParseID.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01arz3ndektsv4rrffq69g5fav", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "00000000000000000000000000", "00000000000000000000000001", "01ARZ3NDEKTSV4RRFFQ69G5FA",
		"01ARZ3NDEKTSV4RRFFQ69G5FAVX", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "", "not-a-claim"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := store.ParseID(s)
		if err != nil {
			require.ErrorIs(t, err, store.ErrInvalidID, "%q", s)
			require.True(t, id.IsZero())
			nonZero := strings.Trim(s, "0") != ""
			require.False(t, crockford.MatchString(s) && nonZero, "%q is a valid ULID: %v", s, err)
		} else {
			require.True(t, crockford.MatchString(s), "%q accepted", s)
			require.False(t, id.IsZero(), "%q: the zero ID is not an id", s)
			require.Equal(t, strings.ToUpper(s), id.String())
			back, err := store.ParseID(id.String())
			require.NoError(t, err)
			require.Equal(t, id, back)
			var u store.ID
			require.NoError(t, u.UnmarshalText([]byte(s)))
			require.Equal(t, id, u)
		}
		if len(s) >= 16 { // raw bytes → text → the same bytes
			var raw store.ID
			copy(raw[:], s)
			if raw.IsZero() {
				return
			}
			back, err := store.ParseID(raw.String())
			require.NoError(t, err, "%x", raw[:])
			require.Equal(t, raw, back)
			require.False(t, errors.Is(err, store.ErrInvalid))
		}
	})
}

// Regression: ParseID accepted "00000000000000000000000000" and returned the
// zero ID, which means "none": a claim ID parsed from outside (an HTTP
// claim_id, a ClaimByID from another process) could turn a delete "under
// this claim" into a delete without a claim, and String of it gave "".
func TestParseIDRejectsZero(t *testing.T) {
	for _, s := range []string{"00000000000000000000000000", "0000000000000000000000000O"} {
		id, err := store.ParseID(s)
		require.ErrorIs(t, err, store.ErrInvalidID, "%q", s)
		require.True(t, id.IsZero())
	}
	var id store.ID
	require.NoError(t, id.UnmarshalText(nil), "empty text still decodes to the zero ID")
	require.ErrorIs(t, id.UnmarshalText([]byte("00000000000000000000000000")), store.ErrInvalidID)
}
