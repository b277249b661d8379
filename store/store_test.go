package store_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// M2: IDs strictly increase even when the clock steps back, within one
// millisecond, and after Observe of a later ID (a reopened store).
func TestIDSourceIncreases(t *testing.T) {
	src := store.NewIDSource()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := src.Next(now)
	steps := []time.Duration{0, 0, time.Millisecond, -time.Hour, 0, 2 * time.Hour, -time.Nanosecond}
	for _, step := range steps {
		now = now.Add(step)
		id := src.Next(now)
		require.Equal(t, 1, id.Compare(prev), "after a step of %v", step)
		prev = id
	}

	reopened := store.NewIDSource()
	reopened.Observe(prev)
	require.Equal(t, prev, reopened.Last())
	require.Equal(t, 1, reopened.Next(now.Add(-24*time.Hour)).Compare(prev))
}

func TestIDSourceCarriesIntoTimestamp(t *testing.T) {
	src := store.NewIDSource()
	var last store.ID
	for i := range last {
		last[i] = 0xff
	}
	last[0] = 0x01 // far from the end of time, all entropy bits set
	src.Observe(last)
	next := src.Next(time.Unix(0, 0))
	require.Equal(t, 1, next.Compare(last))
	require.Equal(t, last.Time().Add(time.Millisecond), next.Time())
}

func TestIDText(t *testing.T) {
	id := store.NewIDSource().Next(time.Now())
	parsed, err := store.ParseID(id.String())
	require.NoError(t, err)
	require.Equal(t, id, parsed)

	text, err := json.Marshal(struct{ ID store.ID }{id})
	require.NoError(t, err)
	var back struct{ ID store.ID }
	require.NoError(t, json.Unmarshal(text, &back))
	require.Equal(t, id, back.ID)

	require.Empty(t, store.ID{}.String())
	require.NoError(t, back.ID.UnmarshalText(nil))
	require.True(t, back.ID.IsZero())

	for _, bad := range []string{"", "garbage", strings.Repeat("Z", 26), id.String() + "0", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		_, err := store.ParseID(bad)
		require.ErrorIs(t, err, store.ErrInvalidID, bad)
		require.ErrorIs(t, err, store.ErrInvalid, bad)
	}
}

// Q1, T1.
func TestNames(t *testing.T) {
	require.NoError(t, store.CheckQueueName(strings.Repeat("a", 64)))
	require.NoError(t, store.CheckQueueName("A-z_0.9"))
	for _, bad := range []string{"", strings.Repeat("a", 65), "a/b", "a b", "é", "a*", "a\x00"} {
		require.ErrorIs(t, store.CheckQueueName(bad), store.ErrInvalidName, "%q", bad)
	}
	for _, good := range []string{"", "tenant-1", "ünïcode", strings.Repeat("p", 256)} {
		require.NoError(t, store.CheckProject(good), "%q", good)
	}
	for _, bad := range []string{"a/b", "a\nb", "\x7f", "a\u0085b", "\xff", strings.Repeat("p", 257)} {
		require.ErrorIs(t, store.CheckProject(bad), store.ErrInvalidName, "%q", bad)
	}
}

// Errors say what was wrong and match their kind and its parents (§4).
func TestErrorf(t *testing.T) {
	err := store.CheckQueueName("a/b")
	require.EqualError(t, err, `herald: queue name "a/b": invalid character '/'`)
	require.ErrorIs(t, err, store.ErrInvalidName)
	require.ErrorIs(t, err, store.ErrInvalid)
	require.NotErrorIs(t, err, store.ErrNotFound)
	require.False(t, errors.Is(store.ErrNotFound, store.ErrInvalid))
}

// M4: deadlines never overflow.
func TestDeadline(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, err := store.Deadline(now, time.Hour, "ttl")
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Hour), d)
	_, err = store.Deadline(now, 250*365*24*time.Hour, "ttl")
	require.ErrorIs(t, err, store.ErrInvalidTTL)
	_, err = store.Deadline(now, -1, "ttl")
	require.ErrorIs(t, err, store.ErrInvalidTTL)
}

// Q3: reserved keys are typed and checked; other keys are free-form.
func TestParseQueueOptions(t *testing.T) {
	o, err := store.ParseQueueOptions(json.RawMessage(`{
		"_default_message_ttl": 120, "_default_message_delay": 5,
		"_max_messages_post_size": 1024, "_max_claim_count": 3,
		"_dead_letter_queue": "dead", "_dead_letter_queue_messages_ttl": 600,
		"_flavor": "fast", "_other": [1], "owner": {"a": 1}}`))
	require.NoError(t, err)
	require.Equal(t, store.QueueOptions{
		DefaultMessageTTL: 2 * time.Minute, DefaultMessageDelay: 5 * time.Second,
		MaxPostSize: 1024, MaxClaimCount: 3, DeadLetterQueue: "dead",
		DeadLetterTTL: 10 * time.Minute, Flavor: "fast",
	}, o)
	require.True(t, o.DeadLettering())

	for _, empty := range []string{"", " ", "{}", `{"_max_claim_count": null}`} {
		o, err := store.ParseQueueOptions(json.RawMessage(empty))
		require.NoError(t, err, empty)
		require.Equal(t, store.QueueOptions{}, o)
	}
	for _, bad := range []string{
		`[]`, `null`, `"x"`, `{`, `{"_default_message_ttl": "60"}`, `{"_default_message_ttl": 1.5}`,
		`{"_default_message_ttl": -1}`, `{"_max_claim_count": 1e300}`, `{"_dead_letter_queue": 7}`,
		`{"_dead_letter_queue": "a/b"}`, `{"_flavor": false}`,
	} {
		_, err := store.ParseQueueOptions(json.RawMessage(bad))
		require.ErrorIs(t, err, store.ErrInvalidMetadata, bad)
	}
	_, err = store.CheckQueueMetadata("jobs", json.RawMessage(`{"_dead_letter_queue": "jobs"}`))
	require.ErrorIs(t, err, store.ErrInvalidMetadata)
}

// M11: CRC32C, the Castagnoli polynomial.
func TestChecksum(t *testing.T) {
	require.Equal(t, uint32(0xe3069283), store.Checksum([]byte("123456789")))
}

// An error quoted in another (Errorf's args) or wrapped (Wrapf) reads with
// one "herald: " prefix, and Wrapf keeps what the inner error matches
// (issue 14 item 15: "herald: _dead_letter_queue: herald: queue name …").
func TestErrorsReadWithOnePrefix(t *testing.T) {
	inner := store.CheckQueueName("a b")
	err := store.Errorf(store.ErrInvalidMetadata, "%s: %v", store.KeyDeadLetterQueue, inner)
	require.EqualError(t, err, `herald: _dead_letter_queue: queue name "a b": invalid character ' '`)
	require.ErrorIs(t, err, store.ErrInvalidMetadata)

	w := store.Wrapf(inner, "queue %q", "x")
	require.EqualError(t, w, `herald: queue "x": queue name "a b": invalid character ' '`)
	require.ErrorIs(t, w, store.ErrInvalidName)
	require.EqualError(t, store.Wrapf(w, "close pool %q", "p"),
		`herald: close pool "p": queue "x": queue name "a b": invalid character ' '`)
	require.EqualError(t, store.Wrapf(inner, "%v; then", store.ErrClosed),
		`herald: closed; then: queue name "a b": invalid character ' '`)

	_, oserr := os.Open(filepath.Join(t.TempDir(), "nope"))
	w = store.Wrapf(oserr, "open %s", "x.db")
	var pe *fs.PathError
	require.ErrorAs(t, w, &pe)
	require.ErrorIs(t, w, fs.ErrNotExist)
	require.Equal(t, "herald: open x.db: "+oserr.Error(), w.Error())

	args := []any{inner}
	_ = store.Errorf(store.ErrInvalid, "%v", args...)
	require.Same(t, inner, args[0], "Errorf leaves the caller's args alone")
}
