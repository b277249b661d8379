package herald_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// clock is a hand-driven clock for tests that move time without blocking.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// snapshot is everything a project shows: its queues with metadata, and
// each queue's stats and messages with claim state.
func snapshot(t *testing.T, p *herald.Project) map[string]any {
	t.Helper()
	ctx := context.Background()
	queues, err := p.ListQueues(ctx, herald.ListQueuesOptions{Limit: 1000, WithMetadata: true})
	require.NoError(t, err)
	out := map[string]any{"queues": queues}
	for _, qi := range queues {
		q := p.Queue(qi.Name)
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		msgs, err := q.List(ctx, herald.ListOptions{Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Echo: true})
		require.NoError(t, err)
		out[qi.Name] = []any{st, msgs}
	}
	return out
}

// RELIABILITY §8: for every API, bad input gets an error matching the
// documented sentinel, never a panic, and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	clk := newClock()
	svc := newService(t, func(o *herald.Options) { o.Now = clk.Now })
	ctx := context.Background()
	p := svc.Project("tenant")
	jobs := p.Queue("jobs")
	_, err := jobs.Create(ctx, herald.Metadata{"owner": "ops"})
	require.NoError(t, err)
	ids := post(t, jobs, "a", "b", "c")
	held, err := jobs.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	other := p.Queue("other")
	post(t, other, "x")
	othersClaim, err := other.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	released, err := other.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.Empty(t, released.Messages)

	lim := svc.Limits()
	big := strings.Repeat("x", lim.MaxMessageSize+1)
	justFits := strings.Repeat("x", lim.MaxMessageSize)
	bad := []struct {
		name string
		want error
		call func() error
	}{
		{"queue name empty", herald.ErrInvalidName, func() error { _, err := p.Queue("").Post(ctx, herald.Draft{}); return err }},
		{"queue name 65", herald.ErrInvalidName, func() error {
			_, err := p.Queue(strings.Repeat("q", 65)).Create(ctx, nil)
			return err
		}},
		{"queue name slash", herald.ErrInvalidName, func() error { _, err := p.Queue("a/b").Claim(ctx, herald.ClaimOptions{}); return err }},
		{"queue name unicode", herald.ErrInvalidName, func() error { _, err := p.Queue("é").Stats(ctx); return err }},
		{"project slash", herald.ErrInvalidName, func() error {
			_, err := svc.Project("a/b").Queue("q").Post(ctx, herald.Draft{})
			return err
		}},
		{"project control", herald.ErrInvalidName, func() error {
			_, err := svc.Project("a\nb").ListQueues(ctx, herald.ListQueuesOptions{})
			return err
		}},
		{"project too long", herald.ErrInvalidName, func() error {
			_, err := svc.Project(strings.Repeat("p", 257)).Queue("q").Post(ctx, herald.Draft{})
			return err
		}},
		{"body over limit", herald.ErrTooLarge, func() error { _, err := jobs.Post(ctx, herald.Draft{Body: []byte(big)}); return err }},
		{"batch over limit", herald.ErrTooLarge, func() error {
			_, err := jobs.Post(ctx, herald.Draft{Body: []byte(justFits)}, herald.Draft{Body: []byte("y")})
			return err
		}},
		{"empty post", herald.ErrInvalidLimit, func() error { _, err := jobs.Post(ctx); return err }},
		{"ttl negative", herald.ErrInvalidTTL, func() error { _, err := jobs.Post(ctx, herald.Draft{TTL: -time.Second}); return err }},
		{"ttl below min", herald.ErrInvalidTTL, func() error { _, err := jobs.Post(ctx, herald.Draft{TTL: time.Millisecond}); return err }},
		{"ttl overflow", herald.ErrInvalidTTL, func() error { _, err := jobs.Post(ctx, herald.Draft{TTL: 250 * 365 * 24 * time.Hour}); return err }},
		{"ttl above max, batch atomic", herald.ErrInvalidTTL, func() error {
			_, err := jobs.Post(ctx, herald.Draft{Body: []byte("ok")}, herald.Draft{TTL: lim.MaxMessageTTL + 1})
			return err
		}},
		{"delay negative", herald.ErrInvalidDelay, func() error { _, err := jobs.Post(ctx, herald.Draft{Delay: -1}); return err }},
		{"delay above max", herald.ErrInvalidDelay, func() error {
			_, err := jobs.Post(ctx, herald.Draft{Delay: lim.MaxMessageDelay + 1})
			return err
		}},
		{"dedup id too long", herald.ErrTooLarge, func() error {
			_, err := jobs.Post(ctx, herald.Draft{DedupID: strings.Repeat("d", lim.MaxDedupIDLen+1)})
			return err
		}},
		{"metadata too large", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"k": strings.Repeat("m", lim.MaxMetadataSize)})
		}},
		{"metadata ttl type", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"_default_message_ttl": "60"})
		}},
		{"metadata ttl fraction", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"_default_message_ttl": 1.5})
		}},
		{"metadata ttl range", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"_default_message_ttl": 15 * 24 * 3600})
		}},
		{"metadata self dlq", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"_dead_letter_queue": "jobs", "_max_claim_count": 1})
		}},
		{"metadata bad dlq name", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"_dead_letter_queue": "a b"})
		}},
		{"metadata unencodable", herald.ErrInvalidMetadata, func() error {
			return jobs.SetMetadata(ctx, herald.Metadata{"f": func() {}})
		}},
		{"create bad metadata on existing queue", herald.ErrInvalidMetadata, func() error {
			_, err := jobs.Create(ctx, herald.Metadata{"_max_claim_count": -1})
			return err
		}},
		{"set metadata missing queue", herald.ErrNotFound, func() error { return p.Queue("nope").SetMetadata(ctx, nil) }},
		{"claim ttl below min", herald.ErrInvalidTTL, func() error { _, err := jobs.Claim(ctx, herald.ClaimOptions{TTL: time.Millisecond}); return err }},
		{"claim ttl above max", herald.ErrInvalidTTL, func() error { _, err := jobs.Claim(ctx, herald.ClaimOptions{TTL: lim.MaxClaimTTL + 1}); return err }},
		{"claim grace negative", herald.ErrInvalidTTL, func() error { _, err := jobs.Claim(ctx, herald.ClaimOptions{Grace: -1}); return err }},
		{"claim limit negative", herald.ErrInvalidLimit, func() error { _, err := jobs.Claim(ctx, herald.ClaimOptions{Limit: -1}); return err }},
		{"claim limit over max", herald.ErrInvalidLimit, func() error {
			_, err := jobs.Claim(ctx, herald.ClaimOptions{Limit: lim.MaxMessagesPerCall + 1})
			return err
		}},
		{"claim wait negative", herald.ErrInvalidTTL, func() error { _, err := jobs.Claim(ctx, herald.ClaimOptions{Wait: -1}); return err }},
		{"pop zero", herald.ErrInvalidLimit, func() error { _, err := jobs.Pop(ctx, 0); return err }},
		{"list limit over max", herald.ErrInvalidLimit, func() error {
			_, err := jobs.List(ctx, herald.ListOptions{Limit: lim.MaxMessagesPerCall + 1})
			return err
		}},
		{"list queues limit negative", herald.ErrInvalidLimit, func() error {
			_, err := p.ListQueues(ctx, herald.ListQueuesOptions{Limit: -1})
			return err
		}},
		{"get none", herald.ErrInvalidLimit, func() error { _, err := jobs.GetMany(ctx); return err }},
		{"get missing", herald.ErrNotFound, func() error { _, err := jobs.Get(ctx, herald.ID{9}); return err }},
		{"delete claimed without claim", herald.ErrClaimMismatch, func() error { return jobs.Delete(ctx, held.Messages[0].ID) }},
		{"delete batch with one claimed", herald.ErrClaimMismatch, func() error { return jobs.Delete(ctx, ids[2], held.Messages[0].ID) }},
		{"claim id zero", herald.ErrInvalidID, func() error { return jobs.ClaimByID(herald.ID{}).Delete(ctx, ids[1]) }},
		{"claim literal", herald.ErrClaimNotFound, func() error { return (&herald.Claim{}).Renew(ctx, time.Minute) }},
		{"claim id garbage", herald.ErrInvalidID, func() error { _, err := herald.ParseID("not-a-claim"); return err }},
		{"other queue's claim on unclaimed", herald.ErrNotClaimed, func() error { return jobs.ClaimByID(othersClaim.ID).Delete(ctx, ids[1]) }},
		{"other queue's claim on claimed", herald.ErrClaimMismatch, func() error {
			return jobs.ClaimByID(othersClaim.ID).Delete(ctx, held.Messages[0].ID)
		}},
		{"other queue's claim renew", herald.ErrClaimNotFound, func() error { return jobs.ClaimByID(othersClaim.ID).Renew(ctx, time.Minute) }},
		{"get other queue's claim", herald.ErrClaimNotFound, func() error { _, err := jobs.GetClaim(ctx, othersClaim.ID); return err }},
		{"renew ttl out of range", herald.ErrInvalidTTL, func() error { return held.Renew(ctx, lim.MaxClaimTTL+1) }},
		{"release delay out of range", herald.ErrInvalidDelay, func() error { return held.Release(ctx, -time.Second) }},
	}
	before := snapshot(t, p)
	for _, tc := range bad {
		err := tc.call()
		require.ErrorIs(t, err, tc.want, tc.name)
		requireOnePrefix(t, err, tc.name)
		require.Equal(t, before, snapshot(t, p), "%s changed state", tc.name)
	}
}

// RELIABILITY §8: stale claim IDs never act: expired, superseded, released.
func TestStaleClaimIDs(t *testing.T) {
	clk := newClock()
	svc := newService(t, func(o *herald.Options) { o.Now = clk.Now })
	ctx := context.Background()
	q := svc.Queue("jobs")
	ids := post(t, q, "a")

	first, err := q.Claim(ctx, herald.ClaimOptions{TTL: time.Minute})
	require.NoError(t, err)
	clk.Advance(time.Minute) // first expires exactly now
	require.ErrorIs(t, first.Delete(ctx, ids[0]), herald.ErrNotClaimed, "expired")
	require.ErrorIs(t, first.Renew(ctx, time.Minute), herald.ErrClaimNotFound, "expired")

	second, err := q.Claim(ctx, herald.ClaimOptions{TTL: time.Minute})
	require.NoError(t, err)
	require.Len(t, second.Messages, 1)
	require.ErrorIs(t, first.Delete(ctx, ids[0]), herald.ErrClaimMismatch, "superseded")
	require.NoError(t, first.Release(ctx, 0), "releasing an expired claim is a no-op")
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Claimed, "a stale release must not free a newer claim")

	require.NoError(t, second.Release(ctx, 0))
	require.ErrorIs(t, second.Delete(ctx, ids[0]), herald.ErrNotClaimed, "released")
	require.NoError(t, q.Delete(ctx, ids[0]))
	err = second.Delete(ctx, ids[0])
	require.ErrorIs(t, err, herald.ErrMessageGone, "deleted message: a claim cannot settle what is gone (C3)")
	require.ErrorIs(t, err, herald.ErrNotClaimed, "every stale settle matches ErrNotClaimed")
	require.NoError(t, q.Delete(ctx, ids[0]), "a delete without a claim skips what is gone (M8)")
}

// New rejects negative or contradictory limits.
func TestNewRejectsBadLimits(t *testing.T) {
	for name, l := range map[string]herald.Limits{
		"negative size":    {MaxMessageSize: -1},
		"negative ttl":     {MaxClaimTTL: -time.Second},
		"default over max": {DefaultClaimLimit: 2000},
		"ttl min over max": {MinMessageTTL: time.Hour, MaxMessageTTL: time.Minute, DefaultMessageTTL: time.Minute},
	} {
		m := newMemory()
		_, err := herald.New(herald.Options{Store: m, Limits: l})
		require.ErrorIs(t, err, herald.ErrInvalid, name)
		require.NoError(t, m.Close())
	}
}
