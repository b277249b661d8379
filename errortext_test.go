package herald_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// requireOnePrefix: an error text starts with "herald: " and says it once,
// however many layers it went through (§4; issue 14 item 15 found
// "herald: _dead_letter_queue: herald: queue name …").
func requireOnePrefix(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, strings.HasPrefix(err.Error(), "herald: "), "%q does not start with herald: %v", err, msgAndArgs)
	require.Equal(t, 1, strings.Count(err.Error(), "herald: "), "%q: %v", err, msgAndArgs)
}

// Errors say what is wrong in words, with the offending value shown as the
// caller wrote it, once prefixed, and still match their sentinels (§4,
// issue 14 item 15).
func TestErrorTexts(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	q := svc.Queue("jobs")
	post(t, q, "a")
	cl, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	lim := svc.Limits()
	pooled := newService(t, func(o *herald.Options) {
		o.Store, o.Pools = nil, []herald.Pool{{Name: "a", Store: newMemory(), Weight: 1}}
	})
	for _, tc := range []struct {
		name string
		want error
		text string
		call func() error
	}{
		{"non-ASCII queue name shows the rune", herald.ErrInvalidName, `herald: queue name "ümlaut": invalid character 'ü'`,
			func() error { _, err := svc.Queue("ümlaut").Post(ctx, herald.Draft{}); return err }},
		{"non-ASCII after ASCII", herald.ErrInvalidName, `herald: queue name "naïve": invalid character 'ï'`,
			func() error { _, err := svc.Queue("naïve").Stats(ctx); return err }},
		{"a long non-ASCII name is refused for its character", herald.ErrInvalidName,
			`herald: queue name "` + strings.Repeat("日", 30) + `": invalid character '日'`,
			func() error { _, err := svc.Queue(strings.Repeat("日", 30)).Create(ctx, nil); return err }},
		{"invalid UTF-8", herald.ErrInvalidName, `herald: queue name "ab\xff": invalid UTF-8 at byte 2`,
			func() error { _, err := svc.Queue("ab\xff").Stats(ctx); return err }},
		{"a literal replacement character is a character", herald.ErrInvalidName, "herald: queue name \"a\uFFFD\": invalid character '\uFFFD'",
			func() error { _, err := svc.Queue("a\uFFFD").Stats(ctx); return err }},
		{"too long", herald.ErrInvalidName, `herald: queue name "` + strings.Repeat("q", 65) + `": longer than 64 characters`,
			func() error { _, err := svc.Queue(strings.Repeat("q", 65)).Stats(ctx); return err }},
		{"dead-letter queue name: one prefix", herald.ErrInvalidMetadata,
			`herald: _dead_letter_queue: queue name "a b": invalid character ' '`,
			func() error { return q.SetMetadata(ctx, herald.Metadata{"_dead_letter_queue": "a b"}) }},
		{"post of no messages", herald.ErrInvalidLimit, `herald: a post needs 1 to 1000 messages, got 0`,
			func() error { _, err := q.Post(ctx); return err }},
		{"post of too many", herald.ErrInvalidLimit, `herald: a post needs 1 to 1000 messages, got 1001`,
			func() error { _, err := q.Post(ctx, make([]herald.Draft, 1001)...); return err }},
		{"pop of none", herald.ErrInvalidLimit, `herald: a pop needs 1 to 1000 messages, got 0`,
			func() error { _, err := q.Pop(ctx, 0); return err }},
		{"get of no ids", herald.ErrInvalidLimit, `herald: a get needs 1 to 1000 ids, got 0`,
			func() error { _, err := q.GetMany(ctx); return err }},
		{"delete of no ids", herald.ErrInvalidLimit, `herald: a delete needs 1 to 1000 ids, got 0`,
			func() error { return q.Delete(ctx) }},
		{"page size", herald.ErrInvalidLimit, `herald: page size must be 1 to 1000, got 1001`,
			func() error { _, err := q.List(ctx, herald.ListOptions{Limit: 1001}); return err }},
		{"claim limit", herald.ErrInvalidLimit, `herald: claim limit must be 1 to 1000, got -1`,
			func() error { _, err := q.Claim(ctx, herald.ClaimOptions{Limit: -1}); return err }},
		{"claim ttl", herald.ErrInvalidTTL, `herald: claim ttl must be 1s to 12h0m0s, got 1ms`,
			func() error { _, err := q.Claim(ctx, herald.ClaimOptions{TTL: time.Millisecond}); return err }},
		{"claim grace", herald.ErrInvalidTTL, `herald: claim grace must be 0 to 12h0m0s, got -1ns`,
			func() error { _, err := q.Claim(ctx, herald.ClaimOptions{Grace: -1}); return err }},
		{"message ttl", herald.ErrInvalidTTL, `herald: message ttl must be 1s to 336h0m0s, got 1ms`,
			func() error { _, err := q.Post(ctx, herald.Draft{TTL: time.Millisecond}); return err }},
		{"message delay", herald.ErrInvalidDelay, `herald: message delay must be 0 to 15m0s, got 16m0s`,
			func() error { _, err := q.Post(ctx, herald.Draft{Delay: 16 * time.Minute}); return err }},
		{"release delay", herald.ErrInvalidDelay, `herald: message delay must be 0 to 15m0s, got -1s`,
			func() error { return cl.Release(ctx, -time.Second) }},
		{"metadata range", herald.ErrInvalidMetadata, `herald: _default_message_ttl must be 1s to 336h0m0s, got 360h0m0s`,
			func() error { return q.SetMetadata(ctx, herald.Metadata{"_default_message_ttl": 15 * 24 * 3600}) }},
		{"subscription ttl", herald.ErrInvalidTTL, `herald: subscription ttl must be more than 0 and at most ` + lim.MaxSubscriptionTTL.String() + `, got -1s`,
			func() error {
				_, _, err := q.Subscribe(ctx, "http://example.com/", herald.SubscribeOptions{TTL: -time.Second})
				return err
			}},
		{"bad subscription options", herald.ErrInvalid, `herald: subscription options: want a JSON object`,
			func() error {
				_, _, err := q.Subscribe(ctx, "http://example.com/", herald.SubscribeOptions{Options: json.RawMessage(`[]`)})
				return err
			}},
		{"get of a missing message says so", herald.ErrNotFound, `herald: message 09000000000000000000000000 in queue "jobs" not found`,
			func() error { _, err := q.Get(ctx, herald.ID{9}); return err }},
		{"a claim of a queue no pool holds", herald.ErrClaimNotFound, `herald: claim 09000000000000000000000000 in queue "nope" not found or expired`,
			func() error { _, err := pooled.Queue("nope").GetClaim(ctx, herald.ID{9}); return err }},
	} {
		err := tc.call()
		require.ErrorIs(t, err, tc.want, tc.name)
		require.EqualError(t, err, tc.text, tc.name)
		requireOnePrefix(t, err, tc.name)
	}
}

// New's limit checks name the fields in words.
func TestLimitsErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		l    herald.Limits
		text string
	}{
		{herald.Limits{MinMessageTTL: time.Hour, MaxMessageTTL: 2 * time.Hour, DefaultMessageTTL: time.Minute},
			`herald: Limits: DefaultMessageTTL must be MinMessageTTL to MaxMessageTTL (1h0m0s to 2h0m0s), got 1m0s`},
		{herald.Limits{MinClaimTTL: time.Hour, DefaultClaimTTL: time.Minute},
			`herald: Limits: DefaultClaimTTL must be MinClaimTTL to MaxClaimTTL (1h0m0s to 12h0m0s), got 1m0s`},
	} {
		m := newMemory()
		_, err := herald.New(herald.Options{Store: m, Limits: tc.l})
		require.ErrorIs(t, err, herald.ErrInvalid)
		require.EqualError(t, err, tc.text)
		require.NoError(t, m.Close())
	}
}

// A handler that panics with a herald error fails with one prefix:
// "herald: handler panicked: message … not found", not "… panicked:
// herald: …".
func TestPanicTextOnePrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "boom")
		log, buf := quietLog()
		ctx, cancel := context.WithCancel(t.Context())
		done := consumeAsync(ctx, q, func(ctx context.Context, m herald.Message) error {
			if m.ClaimCount == 1 {
				_, err := q.Get(ctx, herald.ID{9})
				panic(err) // "herald: message … not found"
			}
			return nil
		}, herald.ConsumeOptions{Logger: log})
		time.Sleep(time.Hour)
		cancel()
		require.NoError(t, <-done)
		require.Contains(t, buf.String(), `err="herald: handler panicked: message 09000000000000000000000000 in queue \"jobs\" not found"`)
		require.NotContains(t, buf.String(), `panicked: herald:`)
	})
}
