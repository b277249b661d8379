package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// reopenStore closes s and opens its file again.
func reopenStore(t *testing.T, s *Store) *Store {
	t.Helper()
	path := s.Path()
	require.NoError(t, s.Close())
	s2, err := Open(path, nil)
	require.NoError(t, err)
	return s2
}

func openAt(t *testing.T) *Store {
	s, err := Open(filepath.Join(t.TempDir(), "herald.db"), nil)
	require.NoError(t, err)
	return s
}

// M2: IDs keep increasing after a restart with the clock a day behind.
func TestRestartIDsIncrease(t *testing.T) {
	s := openAt(t)
	q := store.QueueRef{Name: "q"}
	before := post(t, s, q, t0, "a", "b")
	s = reopenStore(t, s)
	defer s.Close()
	after := post(t, s, q, t0.Add(-24*time.Hour), "c")
	require.Positive(t, after[0].Compare(before[1]))
	// A claim ID is an ID too.
	res, err := s.CreateClaim(t.Context(), store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: t0.Add(-24 * time.Hour)})
	require.NoError(t, err)
	require.Positive(t, res.Claim.ID.Compare(after[0]))
}

// C8: a live claim still works after a restart.
func TestRestartLiveClaim(t *testing.T) {
	s := openAt(t)
	q := store.QueueRef{Name: "q"}
	ids := post(t, s, q, t0, "a", "b")
	res, err := s.CreateClaim(t.Context(), store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: t0})
	require.NoError(t, err)
	s = reopenStore(t, s)
	defer s.Close()
	now := t0.Add(30 * time.Second)
	_, err = s.RenewClaim(t.Context(), store.RenewClaimParams{Queue: q, Claim: res.Claim.ID, TTL: time.Minute, Now: now})
	require.NoError(t, err)
	err = s.DeleteMessages(t.Context(), store.DeleteMessagesParams{Queue: q, IDs: ids[:1], Now: now})
	require.ErrorIs(t, err, store.ErrClaimMismatch)
	require.NoError(t, s.DeleteMessages(t.Context(), store.DeleteMessagesParams{Queue: q, IDs: ids[:1], Claim: res.Claim.ID, Now: now}))
}

// Time never goes backwards across a restart: an expired message does not
// come back when the clock is behind after the restart.
func TestRestartHighWaterNow(t *testing.T) {
	s := openAt(t)
	q := store.QueueRef{Name: "q"}
	_, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x"), TTL: time.Minute}}, Now: t0})
	require.NoError(t, err)
	post(t, s, store.QueueRef{Name: "other"}, t0.Add(time.Hour), "moves the clock")
	s = reopenStore(t, s)
	defer s.Close()
	msgs, err := s.ListMessages(t.Context(), store.ListMessagesParams{Queue: q, Limit: 10, Now: t0})
	require.NoError(t, err)
	require.Empty(t, msgs, "expired before the restart, expired after it")
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Zero(t, st.Total)
}
