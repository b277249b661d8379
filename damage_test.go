package herald_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// flipBody flips a bit of the stored body of message id of queue name in
// the default project of a bolt store: bit rot, as the file holds it.
func flipBody(t *testing.T, st *bolt.Store, name string, id herald.ID) {
	t.Helper()
	require.NoError(t, st.DB().Update(func(tx *bbolt.Tx) error {
		msgs := tx.Bucket([]byte("queues")).Bucket([]byte("/" + name)).Bucket([]byte("msgs"))
		v := append([]byte(nil), msgs.Get(id[:])...)
		require.NotEmpty(t, v, "message %s", id)
		v[len(v)-1] ^= 1 // the body is the record's tail
		return msgs.Put(id[:], v)
	}))
}

// M11 through the Service: a damaged body at the head of a queue does not
// stall its consumers; the Service logs its id; Damaged lists it and
// DeleteDamaged forgets it.
func TestDamagedBodySetAsideAndLogged(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "h.db"), nil)
	require.NoError(t, err)
	log, buf := quietLog()
	svc := newService(t, func(o *herald.Options) { o.Store, o.Logger = st, log })
	ctx := t.Context()
	q := svc.Queue("jobs")
	ids := post(t, q, "bad", "good1", "good2")
	flipBody(t, st, "jobs", ids[0])

	c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, c.Messages, 1, "the claim is filled past the damaged message")
	require.Equal(t, "good1", string(c.Messages[0].Body))
	require.Contains(t, buf.String(), "id="+ids[0].String(), "the Service logs the damaged message's id")
	require.Contains(t, buf.String(), "queue=jobs")
	require.Equal(t, 1, strings.Count(buf.String(), "set aside as damaged"))

	stats, err := q.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Damaged)
	require.Equal(t, int64(2), stats.Total)

	ds, err := q.Damaged(ctx, herald.DamagedOptions{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, ids[0], ds[0].ID)
	require.Equal(t, "jobs", ds[0].Queue)
	require.NoError(t, q.DeleteDamaged(ctx, ids[0]))
	ds, err = q.Damaged(ctx, herald.DamagedOptions{})
	require.NoError(t, err)
	require.Empty(t, ds)

	_, err = q.Damaged(ctx, herald.DamagedOptions{Limit: -1})
	require.ErrorIs(t, err, herald.ErrInvalidLimit)
}

// A store without a damaged set answers Damaged with ErrUnsupported.
func TestDamagedUnsupported(t *testing.T) {
	svc := newService(t, func(o *herald.Options) { o.Store = plainStore{o.Store} })
	_, err := svc.Queue("q").Damaged(t.Context(), herald.DamagedOptions{})
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	require.True(t, errors.Is(svc.Queue("q").DeleteDamaged(t.Context(), herald.ID{9}), errors.ErrUnsupported))
}

// With pools, a queue placed nowhere has no damaged messages; a queue's
// damaged messages are on its own pool's store, and the log names it.
func TestDamagedWithPools(t *testing.T) {
	log, buf := quietLog()
	a := boltPool(t, "a", 1)
	svc := newPooled(t, []herald.Pool{a}, func(o *herald.Options) { o.Logger = log })
	ctx := t.Context()
	ds, err := svc.Queue("missing").Damaged(ctx, herald.DamagedOptions{})
	require.NoError(t, err)
	require.Empty(t, ds)
	require.NoError(t, svc.Queue("missing").DeleteDamaged(ctx, herald.ID{9}))

	q := svc.Queue("jobs")
	ids := post(t, q, "bad", "good")
	flipBody(t, a.Store.(*bolt.Store), "jobs", ids[0])
	got, err := q.Pop(ctx, 2)
	require.NoError(t, err)
	require.Len(t, got, 1)
	ds, err = q.Damaged(ctx, herald.DamagedOptions{Limit: 5})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Contains(t, buf.String(), "pool=a")
}
