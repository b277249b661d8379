package herald_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// X1: consume-transform-produce. The claimed input is deleted and the
// output posted in one step.
func TestTxConsumeTransformProduce(t *testing.T) {
	svc := newService(t)
	ctx := t.Context()
	in, out := svc.Queue("in"), svc.Queue("out")
	post(t, in, "a", "b")
	c, err := in.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)

	ids, err := svc.Tx(ctx, func(tx *herald.Tx) error {
		tx.Post(out, herald.Draft{Body: []byte(strings.ToUpper(string(c.Messages[0].Body)))})
		tx.DeleteClaimed(c, c.Messages[0].ID)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Len(t, ids[0], 1)

	left, err := in.List(ctx, herald.ListOptions{IncludeClaimed: true})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, bodies(left))
	got, err := out.Get(ctx, ids[0][0])
	require.NoError(t, err)
	require.Equal(t, "A", string(got.Body))
}

// X1 without duplicates: once a claim has expired and another consumer
// holds the message, the first consumer's transaction fails whole, so its
// output is not posted a second time.
func TestTxStaleClaimChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		ctx := t.Context()
		in, out := svc.Queue("in"), svc.Queue("out")
		post(t, in, "job")
		first, err := in.Claim(ctx, herald.ClaimOptions{TTL: time.Second})
		require.NoError(t, err)
		time.Sleep(2 * time.Second) // the first claim expires
		second, err := in.Claim(ctx, herald.ClaimOptions{})
		require.NoError(t, err)
		require.Len(t, second.Messages, 1)

		_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
			tx.Post(out, herald.Draft{Body: []byte("result")})
			tx.DeleteClaimed(first, first.Messages[0].ID)
			return nil
		})
		require.ErrorIs(t, err, herald.ErrClaimMismatch)
		require.Contains(t, err.Error(), "op 1")
		_, err = out.Stats(ctx)
		require.ErrorIs(t, err, herald.ErrNotFound, "the output queue was not even created")
		require.NoError(t, second.Delete(ctx, second.Messages[0].ID))
	})
}

// Tx applies nothing when build fails or when any step is bad, and says
// which step; a transaction over queues of another Service is refused.
func TestTxBadInputChangesNothing(t *testing.T) {
	svc := newService(t)
	other := newService(t)
	ctx := t.Context()
	in, out := svc.Queue("in"), svc.Queue("out")
	ids := post(t, in, "keep")
	boom := errors.New("build failed")
	big := herald.Draft{Body: make([]byte, svc.Limits().MaxMessageSize+1)}
	for _, c := range []struct {
		name  string
		build func(tx *herald.Tx) error
		want  error
	}{
		{"build error", func(tx *herald.Tx) error { tx.Delete(in, ids...); return boom }, boom},
		{"empty", func(tx *herald.Tx) error { return nil }, herald.ErrInvalid},
		{"too large", func(tx *herald.Tx) error { tx.Delete(in, ids...); tx.Post(out, big); return nil }, herald.ErrTooLarge},
		{"bad name", func(tx *herald.Tx) error {
			tx.Delete(in, ids...)
			tx.Post(svc.Queue("a/b"), herald.Draft{Body: []byte("x")})
			return nil
		}, herald.ErrInvalidName},
		{"empty post", func(tx *herald.Tx) error { tx.Delete(in, ids...); tx.Post(out); return nil }, herald.ErrInvalid},
		{"empty claim", func(tx *herald.Tx) error { tx.DeleteClaimed(&herald.Claim{}, ids...); return nil }, herald.ErrClaimNotFound},
		{"no claim outside a handler", func(tx *herald.Tx) error { tx.DeleteClaimed(herald.ClaimOf(ctx), ids...); return nil }, herald.ErrClaimNotFound},
		{"nil queue", func(tx *herald.Tx) error {
			tx.Delete(in, ids...)
			tx.Post(nil, herald.Draft{Body: []byte("x")})
			return nil
		}, herald.ErrInvalid},
		{"nil build", nil, herald.ErrInvalid},
		{"other service", func(tx *herald.Tx) error {
			tx.Delete(in, ids...)
			tx.Post(other.Queue("out"), herald.Draft{Body: []byte("x")})
			return nil
		}, herald.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.Tx(ctx, c.build)
			require.ErrorIs(t, err, c.want)
			left, err := in.List(ctx, herald.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"keep"}, bodies(left))
			_, err = out.Stats(ctx)
			require.ErrorIs(t, err, herald.ErrNotFound)
		})
	}
}

// A store without store.Transactor gets an error matching
// errors.ErrUnsupported, not a silent non-atomic fallback.
func TestTxUnsupportedStore(t *testing.T) {
	svc := newService(t, func(o *herald.Options) { o.Store = plainStore{o.Store} })
	_, err := svc.Tx(t.Context(), func(tx *herald.Tx) error {
		tx.Post(svc.Queue("out"), herald.Draft{Body: []byte("x")})
		return nil
	})
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

// plainStore hides every optional ability of the store it wraps.
type plainStore struct{ store.Store }

// Tx from a Consume handler: ClaimOf gives the claim Consume holds, the
// handler posts its output and deletes its input in one step, and
// Consume, told by the claim, does not delete it again: a settle of a
// message that is gone would fail (C3), so Consume must not try one, and
// must log nothing.
func TestTxInConsumeHandler(t *testing.T) {
	for _, how := range []string{"Tx", "Claim.Delete"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &deleteCounter{Store: newMemory()}
				svc := newService(t, func(o *herald.Options) { o.Store = st })
				in, out := svc.Queue("in"), svc.Queue("out")
				post(t, in, "a", "b", "c", "d", "e")
				ctx, cancel := context.WithCancel(t.Context())
				log, logs := quietLog()
				done := consumeAsync(ctx, in, func(ctx context.Context, m herald.Message) error {
					upper := herald.Draft{Body: []byte(strings.ToUpper(string(m.Body)))}
					if how == "Claim.Delete" {
						if _, err := out.Post(ctx, upper); err != nil {
							return err
						}
						return herald.ClaimOf(ctx).Delete(ctx, m.ID)
					}
					_, err := svc.Tx(ctx, func(tx *herald.Tx) error {
						tx.Post(out, upper)
						tx.DeleteClaimed(herald.ClaimOf(ctx), m.ID)
						return nil
					})
					return err
				}, herald.ConsumeOptions{Concurrency: 2, Batch: 5, Logger: log})
				time.Sleep(time.Minute)
				cancel()
				require.NoError(t, <-done)
				require.Zero(t, total(t, in))
				got, err := out.List(t.Context(), herald.ListOptions{})
				require.NoError(t, err)
				require.ElementsMatch(t, []string{"A", "B", "C", "D", "E"}, bodies(got))
				require.Empty(t, logs.String(), "nothing went wrong")
				want := int64(0) // Consume deleted nothing itself: the handlers settled every message
				if how == "Claim.Delete" {
					want = 5 // the handlers' own
				}
				require.Equal(t, want, st.deletes.Load())
			})
		})
	}
}

// deleteCounter counts the DeleteMessages calls that name a claim.
type deleteCounter struct {
	store.Store
	deletes atomic.Int64
}

func (d *deleteCounter) DeleteMessages(ctx context.Context, p store.DeleteMessagesParams) error {
	if !p.Claim.IsZero() {
		d.deletes.Add(1)
	}
	return d.Store.DeleteMessages(ctx, p)
}

func (d *deleteCounter) Transact(ctx context.Context, p store.TxParams) ([][]store.ID, error) {
	return d.Store.(store.Transactor).Transact(ctx, p)
}
