package bolt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

// M11 on the file itself: a byte of a stored body flipped on disk, with
// the store closed, in a message posted through the group committer and in
// one posted inside the application's own transaction (PostTx, X2). On
// reopen, every read steps over both, sets them aside and keeps the queue
// flowing; the damaged set survives a restart and Verify is clean again.
func TestFlippedByteOnDisk(t *testing.T) {
	bodyA := []byte(strings.Repeat("committed-body-", 8))
	bodyB := []byte(strings.Repeat("posttx-body-", 8))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := store.QueueRef{Project: "p", Name: "jobs"}
	reads := map[string]func(t *testing.T, s *bolt.Store, all []store.ID) []store.ID{
		"claim": func(t *testing.T, s *bolt.Store, _ []store.ID) []store.ID {
			res, err := s.CreateClaim(t.Context(), store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 2, Now: t0})
			require.NoError(t, err)
			return msgIDs(res.Messages)
		},
		"pop": func(t *testing.T, s *bolt.Store, _ []store.ID) []store.ID {
			ms, err := s.PopMessages(t.Context(), store.PopParams{Queue: q, Limit: 2, Now: t0})
			require.NoError(t, err)
			return msgIDs(ms)
		},
		"list": func(t *testing.T, s *bolt.Store, _ []store.ID) []store.ID {
			ms, err := s.ListMessages(t.Context(), store.ListMessagesParams{Queue: q, Limit: 2, Now: t0})
			require.NoError(t, err)
			return msgIDs(ms)
		},
		"get": func(t *testing.T, s *bolt.Store, all []store.ID) []store.ID {
			ms, err := s.GetMessages(t.Context(), store.GetMessagesParams{Queue: q, IDs: all, Now: t0})
			require.NoError(t, err)
			return msgIDs(ms)
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			s, err := bolt.Open(path, nil)
			require.NoError(t, err)
			a, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: bodyA}}, Now: t0})
			require.NoError(t, err)
			var b []store.ID
			require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
				b, err = s.PostTx(tx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: bodyB}}, Now: t0})
				return err
			}))
			good, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("g1")}, {Body: []byte("g2")}}, Now: t0})
			require.NoError(t, err)
			require.NoError(t, s.Close())

			flipBodies(t, path, bodyA, bodyB)

			s, err = bolt.Open(path, nil)
			require.NoError(t, err)
			all := append(append(append([]store.ID{}, a...), b...), good...)
			require.Equal(t, good, read(t, s, all), "the healthy messages behind the damaged ones")
			st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
			require.NoError(t, err)
			require.Equal(t, int64(2), st.Damaged)
			require.NoError(t, s.Verify(t.Context()), "the damaged bodies left the queue")
			require.NoError(t, s.Close())

			s, err = bolt.Open(path, nil)
			require.NoError(t, err)
			defer s.Close()
			ds, err := s.ListDamaged(t.Context(), store.ListDamagedParams{Queue: q, Limit: 10})
			require.NoError(t, err)
			require.Len(t, ds, 2, "the damaged set survives a restart")
			require.Equal(t, []store.ID{a[0], b[0]}, []store.ID{ds[0].ID, ds[1].ID})
			for i, want := range [][]byte{bodyA, bodyB} {
				require.Equal(t, q.Name, ds[i].Queue)
				require.Len(t, ds[i].Body, len(want), "the raw bytes are kept")
				require.NotEqual(t, want, ds[i].Body)
				require.False(t, store.Intact(ds[i].Body, ds[i].Checksum))
			}
		})
	}
}

// flipBodies flips one bit of every copy of each body in the file at path:
// bit rot under a closed store. A body that is not found fails the test.
func flipBodies(t *testing.T, path string, bodies ...[]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, body := range bodies {
		n := 0
		for i := 0; ; {
			j := bytes.Index(data[i:], body)
			if j < 0 {
				break
			}
			data[i+j+len(body)/2] ^= 0x01
			i += j + len(body)
			n++
		}
		require.NotZero(t, n, "body %q not found in the file", body[:16])
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func msgIDs(ms []store.Message) []store.ID {
	out := make([]store.ID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// M11, D3, D6: Verify checks the damaged sets (their records decode and
// their counts agree), and Compact keeps them with their counts.
func TestDamagedSetVerifiedAndCompacted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := store.QueueRef{Project: "p", Name: "jobs"}
	ids, err := s.PostMessages(t.Context(), store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("bad")}, {Body: []byte("good")}}, Now: t0})
	require.NoError(t, err)
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		msgs := tx.Bucket([]byte("queues")).Bucket([]byte("p/jobs")).Bucket([]byte("msgs"))
		v := append([]byte(nil), msgs.Get(ids[0][:])...)
		v[len(v)-1] ^= 1
		return msgs.Put(ids[0][:], v)
	}))
	require.ErrorIs(t, s.Verify(t.Context()), store.ErrCorrupt, "a damaged body in the queue")
	ms, err := s.PopMessages(t.Context(), store.PopParams{Queue: q, Limit: 10, Now: t0})
	require.NoError(t, err)
	require.Equal(t, ids[1:], msgIDs(ms))
	require.NoError(t, s.Verify(t.Context()), "set aside, it is no longer the queue's")

	_, _, err = s.Compact(t.Context())
	require.NoError(t, err)
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Damaged, "Compact keeps the damaged set and its count")
	require.NoError(t, s.Verify(t.Context()))

	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("damaged")).Bucket([]byte("p/jobs")).SetSequence(7)
	}))
	require.ErrorIs(t, s.Verify(t.Context()), store.ErrCorrupt, "a count that disagrees")
}
