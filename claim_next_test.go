package herald_test

import (
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

func idsOf(msgs []herald.Message) []herald.ID {
	out := make([]herald.ID, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// DeleteAndClaim acknowledges a batch and takes the next in one call, on
// both stores.
func TestDeleteAndClaim(t *testing.T) {
	for name, edit := range map[string]func(*herald.Options){
		"memory": nil,
		"bolt": func(o *herald.Options) {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "h.db"), nil)
			require.NoError(t, err)
			o.Store = st
		},
	} {
		t.Run(name, func(t *testing.T) {
			var edits []func(*herald.Options)
			if edit != nil {
				edits = append(edits, edit)
			}
			q := newService(t, edits...).Queue("jobs")
			ctx := t.Context()
			post(t, q, "a", "b", "c", "d", "e")
			first, err := q.Claim(ctx, herald.ClaimOptions{Limit: 2})
			require.NoError(t, err)

			next, err := first.DeleteAndClaim(ctx, herald.ClaimOptions{Limit: 2}, idsOf(first.Messages)...)
			require.NoError(t, err)
			require.Equal(t, []string{"c", "d"}, bodies(next.Messages))
			_, err = q.GetClaim(ctx, first.ID)
			require.ErrorIs(t, err, herald.ErrClaimNotFound, "the first claim ended with its last message")
			st, err := q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(3), st.Total, "a and b are deleted")

			_, err = next.DeleteAndClaim(ctx, herald.ClaimOptions{}, idsOf(first.Messages)[0], next.Messages[0].ID)
			require.ErrorIs(t, err, herald.ErrMessageGone, "a is gone: next cannot settle it, and nothing changes (C3)")
			held, err := q.GetClaim(ctx, next.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"c", "d"}, bodies(held.Messages))
			third, err := next.DeleteAndClaim(ctx, herald.ClaimOptions{}, next.Messages[0].ID)
			require.NoError(t, err)
			require.Equal(t, []string{"e"}, bodies(third.Messages))
			_, err = next.DeleteAndClaim(ctx, herald.ClaimOptions{}, third.Messages[0].ID)
			require.ErrorIs(t, err, herald.ErrClaimMismatch, "e is under another claim")
			_, err = next.DeleteAndClaim(ctx, herald.ClaimOptions{TTL: time.Nanosecond}, next.Messages[1].ID)
			require.ErrorIs(t, err, herald.ErrInvalidTTL)
			held, err = q.GetClaim(ctx, next.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"d"}, bodies(held.Messages), "failed calls deleted nothing")
			st, err = q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, herald.Stats{Claimed: 2, Total: 2}, herald.Stats{Claimed: st.Claimed, Total: st.Total}, "and claimed nothing")
		})
	}
}

// DeleteAndClaim with Wait commits the delete, then waits for a message
// like a blocking Queue.Claim (C7).
func TestDeleteAndClaimWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newService(t).Queue("jobs")
		ctx := t.Context()
		post(t, q, "a")
		first, err := q.Claim(ctx, herald.ClaimOptions{})
		require.NoError(t, err)

		got := make(chan claimResult, 1)
		go func() {
			c, err := first.DeleteAndClaim(ctx, herald.ClaimOptions{Wait: time.Minute}, first.Messages[0].ID)
			got <- claimResult{c, err}
		}()
		synctest.Wait() // asleep, the delete committed
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		require.Zero(t, st.Total, "a was deleted before the wait")
		post(t, q, "b")
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, []string{"b"}, bodies(r.c.Messages))
	})
}

func TestDeleteAndClaimThroughEmptyClaim(t *testing.T) {
	q := newService(t).Queue("jobs")
	ctx := t.Context()
	empty, err := q.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.Empty(t, empty.Messages)
	post(t, q, "a")

	_, err = empty.DeleteAndClaim(ctx, herald.ClaimOptions{}, herald.ID{})
	require.ErrorIs(t, err, herald.ErrClaimNotFound, "nothing to delete through")
	c, err := empty.DeleteAndClaim(ctx, herald.ClaimOptions{})
	require.NoError(t, err, "with no ids it is a plain claim")
	require.Equal(t, []string{"a"}, bodies(c.Messages))
	_, err = (*herald.Claim)(nil).DeleteAndClaim(ctx, herald.ClaimOptions{})
	require.ErrorIs(t, err, herald.ErrClaimNotFound)
}
