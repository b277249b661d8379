package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	ctx = context.Background()
	t0  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Local() // stores return Local times, like time.Unix
	qa  = store.QueueRef{Project: "p", Name: "a"}
)

func post(t *testing.T, s *memory.Store, q store.QueueRef, now time.Time, ds ...store.Draft) []store.ID {
	t.Helper()
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: ds, Now: now})
	require.NoError(t, err)
	require.Len(t, ids, len(ds))
	return ids
}

func body(s string) store.Draft { return store.Draft{Body: []byte(s)} }

func stats(t *testing.T, s *memory.Store, q store.QueueRef, now time.Time) store.Stats {
	t.Helper()
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
	require.NoError(t, err)
	require.Equal(t, st.Total, st.Free+st.Claimed+st.Delayed)
	return st
}

func list(t *testing.T, s *memory.Store, p store.ListMessagesParams) []store.Message {
	t.Helper()
	if p.Queue == (store.QueueRef{}) {
		p.Queue = qa
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	ms, err := s.ListMessages(ctx, p)
	require.NoError(t, err)
	return ms
}

func claim(t *testing.T, s *memory.Store, q store.QueueRef, now time.Time, limit int) store.ClaimResult {
	t.Helper()
	r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Minute, Limit: limit, Now: now})
	require.NoError(t, err)
	return r
}

func TestPostListGet(t *testing.T) {
	s := memory.New()
	defer s.Close()
	in := []byte("hello")
	ids := post(t, s, qa, t0, store.Draft{Body: in}, body("b"), body("c"))
	in[0] = 'X' // the store copied the body (M3)
	require.Less(t, ids[0].Compare(ids[1]), 0)
	require.Less(t, ids[1].Compare(ids[2]), 0)

	ms := list(t, s, store.ListMessagesParams{Now: t0})
	require.Len(t, ms, 3)
	require.Equal(t, "hello", string(ms[0].Body))
	require.Equal(t, store.Checksum([]byte("hello")), ms[0].Checksum)
	require.Equal(t, t0, ms[0].Created)
	require.Equal(t, t0.Add(store.DefaultMessageTTL), ms[0].Expires)
	ms[0].Body[0] = 'Y' // the caller owns what it got
	ms = list(t, s, store.ListMessagesParams{Now: t0, Marker: ids[0], Limit: 1})
	require.Len(t, ms, 1)
	require.Equal(t, ids[1], ms[0].ID)

	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: qa, IDs: []store.ID{ids[2], {9}, ids[0], ids[2]}, Now: t0})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, ids[2], got[0].ID)
	require.Equal(t, "hello", string(got[1].Body))

	info, err := s.GetQueue(ctx, store.GetQueueParams{Queue: qa})
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(info.Metadata))
	require.Equal(t, t0, info.Created)
}

func TestValidation(t *testing.T) {
	s := memory.New()
	defer s.Close()
	_, err := s.PostMessages(ctx, store.PostParams{Queue: store.QueueRef{Name: "a/b"}, Messages: []store.Draft{body("x")}, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidName)
	_, err = s.PostMessages(ctx, store.PostParams{Queue: qa, Messages: []store.Draft{body("x"), {TTL: -1}}, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidTTL)
	_, err = s.PostMessages(ctx, store.PostParams{Queue: qa, Messages: []store.Draft{{Delay: -1}}, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidDelay)
	_, err = s.PostMessages(ctx, store.PostParams{Queue: qa, Messages: []store.Draft{{TTL: 250 * 365 * 24 * time.Hour}}, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidTTL)
	_, err = s.GetQueue(ctx, store.GetQueueParams{Queue: qa})
	require.ErrorIs(t, err, store.ErrNotFound, "a failed post creates nothing")

	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa, Metadata: json.RawMessage(`{"_max_messages_post_size": 4}`), Now: t0})
	require.NoError(t, err)
	_, err = s.PostMessages(ctx, store.PostParams{Queue: qa, Messages: []store.Draft{body("abc"), body("de")}, Now: t0})
	require.ErrorIs(t, err, store.ErrTooLarge)
	require.Zero(t, stats(t, s, qa, t0).Total)

	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: 0, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidTTL)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: 1, Grace: -1, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidTTL)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: 1, Limit: 0, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidLimit)
	err = s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: qa, Delay: -1, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalidDelay)
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa, Metadata: json.RawMessage(`{"_dead_letter_queue": "a"}`)})
	require.ErrorIs(t, err, store.ErrInvalidMetadata)
	err = s.SetQueueMetadata(ctx, store.SetQueueMetadataParams{Queue: store.QueueRef{Name: "zz"}, Metadata: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestCreateQueueKeepsMetadata(t *testing.T) {
	s := memory.New()
	defer s.Close()
	created, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa, Metadata: json.RawMessage(`{"x":1}`), Now: t0})
	require.NoError(t, err)
	require.True(t, created)
	created, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa, Metadata: json.RawMessage(`{"x":2}`), Now: t0})
	require.NoError(t, err)
	require.False(t, created)
	info, err := s.GetQueue(ctx, store.GetQueueParams{Queue: qa})
	require.NoError(t, err)
	require.JSONEq(t, `{"x":1}`, string(info.Metadata))

	for _, n := range []string{"c", "b", "d"} {
		_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "p", Name: n}, Now: t0})
		require.NoError(t, err)
	}
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "other", Name: "b"}, Now: t0})
	require.NoError(t, err)
	qs, err := s.ListQueues(ctx, store.ListQueuesParams{Project: "p", Marker: "a", Limit: 2})
	require.NoError(t, err)
	require.Len(t, qs, 2)
	require.Equal(t, "b", qs[0].Name)
	require.Equal(t, "c", qs[1].Name)
	require.Nil(t, qs[0].Metadata)
	qs, err = s.ListQueues(ctx, store.ListQueuesParams{Project: "p", Marker: "c", Limit: 5, WithMetadata: true})
	require.NoError(t, err)
	require.Len(t, qs, 1)
	require.JSONEq(t, `{}`, string(qs[0].Metadata))
}

func TestExpiryBoundary(t *testing.T) {
	s := memory.New()
	defer s.Close()
	ids := post(t, s, qa, t0, store.Draft{Body: []byte("x"), TTL: time.Second})
	require.Len(t, list(t, s, store.ListMessagesParams{Now: t0.Add(time.Second - 1)}), 1)
	require.Empty(t, list(t, s, store.ListMessagesParams{Now: t0.Add(time.Second)}))
	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: qa, IDs: ids, Now: t0.Add(time.Second)})
	require.NoError(t, err)
	require.Empty(t, got)
	st := stats(t, s, qa, t0.Add(time.Second))
	require.Zero(t, st.Total)
	require.Nil(t, st.Oldest)
	// The clock stepping back does not revive it.
	require.Empty(t, list(t, s, store.ListMessagesParams{Now: t0}))
}

func TestDelay(t *testing.T) {
	s := memory.New()
	defer s.Close()
	post(t, s, qa, t0, store.Draft{Body: []byte("d"), Delay: time.Minute}, body("f"))
	st := stats(t, s, qa, t0)
	require.Equal(t, store.Stats{Free: 1, Delayed: 1, Total: 2}, *withoutRefs(&st))
	require.Len(t, list(t, s, store.ListMessagesParams{Now: t0}), 1)
	require.Len(t, list(t, s, store.ListMessagesParams{Now: t0, IncludeDelayed: true}), 2)
	r := claim(t, s, qa, t0, 10)
	require.Len(t, r.Messages, 1)
	require.Equal(t, "f", string(r.Messages[0].Body))
	r2 := claim(t, s, qa, t0, 10)
	require.Empty(t, r2.Messages)
	require.Equal(t, t0.Add(time.Minute), r2.NextReady)
	r3 := claim(t, s, qa, t0.Add(time.Minute), 10) // the first claim ended too
	require.Len(t, r3.Messages, 2)
	require.Equal(t, "d", string(r3.Messages[0].Body))
	require.Equal(t, t0.Add(time.Minute), r3.Messages[0].VisibleAt)
}

func withoutRefs(st *store.Stats) *store.Stats {
	c := *st
	c.Oldest, c.Newest = nil, nil
	return &c
}

func TestClaimExtendsAndCounts(t *testing.T) {
	s := memory.New()
	defer s.Close()
	ids := post(t, s, qa, t0, store.Draft{Body: []byte("a"), TTL: 30 * time.Second}, store.Draft{Body: []byte("b"), TTL: time.Hour}, body("c"))
	r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: time.Minute, Grace: 10 * time.Second, Limit: 2, Now: t0})
	require.NoError(t, err)
	require.Len(t, r.Messages, 2)
	require.Equal(t, ids[0], r.Messages[0].ID)
	require.Equal(t, t0.Add(70*time.Second), r.Messages[0].Expires, "C2")
	require.Equal(t, t0.Add(time.Hour), r.Messages[1].Expires)
	require.Equal(t, 1, r.Messages[0].ClaimCount)
	require.Equal(t, r.Claim.ID, r.Messages[0].ClaimID)
	require.Equal(t, t0.Add(time.Minute), r.Claim.Expires)
	st := stats(t, s, qa, t0)
	require.EqualValues(t, 2, st.Claimed)
	require.EqualValues(t, 1, st.Free)
	require.Equal(t, ids[0], st.Oldest.ID)
	require.Equal(t, ids[2], st.Newest.ID)

	// List hides claimed messages unless asked; ClaimID only while live.
	require.Len(t, list(t, s, store.ListMessagesParams{Now: t0}), 1)
	all := list(t, s, store.ListMessagesParams{Now: t0, IncludeClaimed: true})
	require.Len(t, all, 3)
	require.Equal(t, r.Claim.ID, all[0].ClaimID)

	info, ms, err := s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: t0})
	require.NoError(t, err)
	require.Equal(t, r.Claim, info)
	require.Len(t, ms, 2)

	// Expiry: at claim expiry the messages are free again.
	later := t0.Add(time.Minute)
	_, _, err = s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: later})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	all = list(t, s, store.ListMessagesParams{Now: later})
	require.Len(t, all, 3)
	require.True(t, all[0].ClaimID.IsZero())
	require.Equal(t, 1, all[0].ClaimCount)
	_, err = s.RenewClaim(ctx, store.RenewClaimParams{Queue: qa, Claim: r.Claim.ID, TTL: time.Minute, Now: later})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	// The first message dies at t0+70s.
	require.Len(t, list(t, s, store.ListMessagesParams{Now: t0.Add(70 * time.Second)}), 2)
}

func TestRenewRelease(t *testing.T) {
	s := memory.New()
	defer s.Close()
	post(t, s, qa, t0, store.Draft{Body: []byte("a"), TTL: time.Minute})
	r := claim(t, s, qa, t0, 1)
	now := t0.Add(30 * time.Second)
	info, err := s.RenewClaim(ctx, store.RenewClaimParams{Queue: qa, Claim: r.Claim.ID, TTL: 2 * time.Minute, Grace: time.Second, Now: now})
	require.NoError(t, err)
	require.Equal(t, now.Add(2*time.Minute), info.Expires)
	require.Equal(t, now, info.Updated)
	_, ms, err := s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: now})
	require.NoError(t, err)
	require.Equal(t, now.Add(2*time.Minute+time.Second), ms[0].Expires)
	require.Equal(t, 1, ms[0].ClaimCount, "renew keeps counts")

	require.NoError(t, s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: qa, Claim: r.Claim.ID, Delay: 10 * time.Second, Now: now}))
	require.NoError(t, s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: qa, Claim: r.Claim.ID, Now: now}), "no-op")
	st := stats(t, s, qa, now)
	require.EqualValues(t, 1, st.Delayed)
	require.Empty(t, claim(t, s, qa, now, 1).Messages)
	r2 := claim(t, s, qa, now.Add(10*time.Second), 1)
	require.Len(t, r2.Messages, 1)
	require.Equal(t, 2, r2.Messages[0].ClaimCount)
}

func TestDeleteRules(t *testing.T) {
	s := memory.New()
	defer s.Close()
	ids := post(t, s, qa, t0, body("a"), body("b"), body("c"))
	r := claim(t, s, qa, t0, 1)  // holds a
	r2 := claim(t, s, qa, t0, 1) // holds b
	del := func(claim store.ID, ids ...store.ID) error {
		return s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: qa, IDs: ids, Claim: claim, Now: t0})
	}
	require.ErrorIs(t, del(store.ID{}, ids[2], ids[0]), store.ErrClaimMismatch)
	require.ErrorIs(t, del(r.Claim.ID, ids[0], ids[2]), store.ErrNotClaimed)
	require.ErrorIs(t, del(r.Claim.ID, ids[0], ids[1]), store.ErrClaimMismatch)
	require.EqualValues(t, 3, stats(t, s, qa, t0).Total, "failed deletes change nothing")
	require.NoError(t, del(r.Claim.ID, ids[0], ids[0]))
	require.NoError(t, del(store.ID{}, ids[2], ids[0]))
	st := stats(t, s, qa, t0)
	require.EqualValues(t, 1, st.Total)
	require.EqualValues(t, 1, st.Claimed)
	// A claim whose messages are all gone is over.
	_, _, err := s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: t0})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: qa, IDs: []store.ID{ids[1]}, IgnoreClaims: true, Now: t0}))
	require.Zero(t, stats(t, s, qa, t0).Total)
	_, _, err = s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r2.Claim.ID, Now: t0})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	err = s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: qa, IDs: ids, Claim: r.Claim.ID, IgnoreClaims: true, Now: t0})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: store.QueueRef{Name: "none"}, IDs: ids, Now: t0}))
}

func TestPop(t *testing.T) {
	s := memory.New()
	defer s.Close()
	ids := post(t, s, qa, t0, body("a"), body("b"), body("c"))
	claim(t, s, qa, t0, 1)
	ms, err := s.PopMessages(ctx, store.PopParams{Queue: qa, Limit: 5, Now: t0})
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, ids[1], ms[0].ID)
	require.EqualValues(t, 1, stats(t, s, qa, t0).Total)
}

func TestDeadLetter(t *testing.T) {
	s := memory.New()
	defer s.Close()
	meta := json.RawMessage(`{"_max_claim_count": 2, "_dead_letter_queue": "dlq", "_dead_letter_queue_messages_ttl": 600}`)
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa, Metadata: meta, Now: t0})
	require.NoError(t, err)
	ids := post(t, s, qa, t0, body("a"), body("b"))
	now := t0
	for i := 1; i <= 2; i++ {
		r := claim(t, s, qa, now, 1)
		require.Len(t, r.Messages, 1)
		require.Equal(t, ids[0], r.Messages[0].ID)
		require.Equal(t, i, r.Messages[0].ClaimCount)
		require.NoError(t, s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: qa, Claim: r.Claim.ID, Now: now}))
		now = now.Add(time.Second)
	}
	dref := store.QueueRef{Project: "p", Name: "dlq"}
	_, err = s.GetQueue(ctx, store.GetQueueParams{Queue: dref})
	require.ErrorIs(t, err, store.ErrNotFound)
	r := claim(t, s, qa, now, 1)
	require.Equal(t, 1, r.DeadLettered)
	require.Equal(t, "dlq", r.DeadLetterQueue)
	require.Len(t, r.Messages, 1)
	require.Equal(t, ids[1], r.Messages[0].ID, "the claim keeps filling")

	dm := list(t, s, store.ListMessagesParams{Queue: dref, Now: now})
	require.Len(t, dm, 1)
	require.Equal(t, "a", string(dm[0].Body))
	require.NotEqual(t, ids[0], dm[0].ID)
	require.Zero(t, dm[0].ClaimCount)
	require.Equal(t, t0, dm[0].Created)
	require.Equal(t, now.Add(10*time.Minute), dm[0].Expires)
	require.EqualValues(t, 1, stats(t, s, qa, now).Total)

	// A queue that dead-letters into a queue that dead-letters back.
	meta2 := json.RawMessage(`{"_max_claim_count": 1, "_dead_letter_queue": "a"}`)
	require.NoError(t, s.SetQueueMetadata(ctx, store.SetQueueMetadataParams{Queue: dref, Metadata: meta2}))
	r = claim(t, s, dref, now, 5)
	require.Len(t, r.Messages, 1)
	require.NoError(t, s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: dref, Claim: r.Claim.ID, Now: now}))
	r = claim(t, s, dref, now, 5)
	require.Empty(t, r.Messages)
	require.Equal(t, 1, r.DeadLettered)
	require.EqualValues(t, 2, stats(t, s, qa, now).Total)
}

func TestDedup(t *testing.T) {
	s := memory.New()
	defer s.Close()
	d := func(b, k string) store.Draft { return store.Draft{Body: []byte(b), DedupID: k} }
	ids := post(t, s, qa, t0, d("a", "k1"), d("b", "k2"), d("c", "k1"), body("d"))
	require.Equal(t, ids[0], ids[2])
	require.NotEqual(t, ids[0], ids[1])
	require.EqualValues(t, 3, stats(t, s, qa, t0).Total)
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: qa, IDs: ids[:1], Now: t0}))
	again := post(t, s, qa, t0.Add(time.Minute), d("x", "k1"))
	require.Equal(t, ids[0], again[0], "a hit survives the message")
	require.EqualValues(t, 2, stats(t, s, qa, t0.Add(time.Minute)).Total)
	require.NoError(t, s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: qa, Now: t0.Add(time.Minute)}))
	again = post(t, s, qa, t0.Add(time.Minute), d("x", "k2"))
	require.Equal(t, ids[1], again[0], "purge keeps dedup entries")
	fresh := post(t, s, qa, t0.Add(store.DefaultDedupWindow), d("y", "k1"))
	require.NotEqual(t, ids[0], fresh[0], "the window ended")
}

func TestPurgeDeleteQueue(t *testing.T) {
	s := memory.New()
	defer s.Close()
	post(t, s, qa, t0, body("a"), body("b"), store.Draft{Body: []byte("c"), Delay: time.Hour})
	r := claim(t, s, qa, t0, 1)
	require.NoError(t, s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: qa, Now: t0}))
	require.Equal(t, store.Stats{}, stats(t, s, qa, t0))
	_, _, err := s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: t0})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	require.NoError(t, s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: qa}))
	require.NoError(t, s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: qa}))
	_, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: qa, Now: t0})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: qa, Now: t0}))
}

func TestSweep(t *testing.T) {
	s := memory.New()
	defer s.Close()
	for i := range 5 {
		q := store.QueueRef{Name: fmt.Sprintf("q%d", i)}
		post(t, s, q, t0, store.Draft{Body: []byte("x"), TTL: time.Minute, DedupID: "d"}, store.Draft{Body: []byte("y"), TTL: time.Hour})
		claim(t, s, q, t0, 1) // takes x; extends it to t0+2m
	}
	later := t0.Add(10 * time.Minute)
	var total store.SweepResult
	for range 20 {
		r, err := s.Sweep(ctx, store.SweepParams{Now: later, Limit: 4})
		require.NoError(t, err)
		require.LessOrEqual(t, r.Messages+r.Claims+r.Dedup, 4)
		total.Messages += r.Messages
		total.Claims += r.Claims
		total.Dedup += r.Dedup
		if !r.More {
			break
		}
	}
	require.Equal(t, store.SweepResult{Messages: 5, Claims: 5, Dedup: 5}, total)
	r, err := s.Sweep(ctx, store.SweepParams{Now: later, Limit: 4})
	require.NoError(t, err)
	require.Equal(t, store.SweepResult{}, r)
	_, err = s.Sweep(ctx, store.SweepParams{Now: later})
	require.ErrorIs(t, err, store.ErrInvalidLimit)
}

func TestClose(t *testing.T) {
	s := memory.New()
	post(t, s, qa, t0, body("a"))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err := s.PostMessages(ctx, store.PostParams{Queue: qa, Messages: []store.Draft{body("a")}, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.ListMessages(ctx, store.ListMessagesParams{Queue: qa, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: time.Minute, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.ListQueues(ctx, store.ListQueuesParams{Limit: 1})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.Sweep(ctx, store.SweepParams{Now: t0, Limit: 1})
	require.ErrorIs(t, err, store.ErrClosed)
	err = s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: qa})
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: qa})
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestClockBack(t *testing.T) {
	s := memory.New()
	defer s.Close()
	post(t, s, qa, t0, body("a"))
	r := claim(t, s, qa, t0, 1)
	require.Len(t, r.Messages, 1)
	after := t0.Add(2 * time.Minute) // the claim has expired
	r2 := claim(t, s, qa, after, 1)
	require.Len(t, r2.Messages, 1)
	// Stepping back does not revive the first claim.
	_, _, err := s.GetClaim(ctx, store.GetClaimParams{Queue: qa, Claim: r.Claim.ID, Now: t0})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	require.Empty(t, claim(t, s, qa, t0, 1).Messages)
	ids := post(t, s, qa, t0, body("b"))
	ms := list(t, s, store.ListMessagesParams{Now: t0})
	require.Len(t, ms, 1)
	require.Equal(t, ids[0], ms[0].ID)
	require.Equal(t, after, ms[0].Created)
}

// TestConcurrentPipeline checks that with producers and consumers racing
// every posted message is deleted exactly once.
func TestConcurrentPipeline(t *testing.T) {
	s := memory.New()
	defer s.Close()
	const producers, consumers, per = 4, 4, 500
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[store.ID]int{}
	for p := range producers {
		wg.Go(func() {
			for i := range per {
				post(t, s, qa, t0, body(fmt.Sprintf("%d-%d", p, i)))
			}
		})
	}
	done := make(chan struct{})
	var cg sync.WaitGroup
	for range consumers {
		cg.Go(func() {
			for {
				r, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: qa, TTL: time.Hour, Limit: 10, Now: t0})
				if err != nil {
					t.Error(err)
					return
				}
				if len(r.Messages) == 0 {
					select {
					case <-done:
						if stats(t, s, qa, t0).Total == 0 {
							return
						}
					default:
					}
					continue
				}
				ids := make([]store.ID, len(r.Messages))
				for i, m := range r.Messages {
					ids[i] = m.ID
				}
				if err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: qa, IDs: ids, Claim: r.Claim.ID, Now: t0}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, id := range ids {
					got[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	cg.Wait()
	require.Len(t, got, producers*per)
	for _, n := range got {
		require.Equal(t, 1, n)
	}
}
