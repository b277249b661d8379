package herald_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// A store serves one Service. Two over one store would not wake each
// other's blocked claimers, and either's Close would close the store
// under the other, so the second is refused and the first keeps working.
func TestStoreServesOneService(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	first, err := herald.New(herald.Options{Store: st})
	require.NoError(t, err)

	_, err = herald.New(herald.Options{Store: st})
	require.ErrorIs(t, err, herald.ErrInvalid)
	require.ErrorContains(t, err, "used by another Service")
	_, err = herald.New(herald.Options{Pools: []herald.Pool{{Name: "a", Store: memory.New(), Weight: 1}, {Name: "b", Store: st, Weight: 1}}})
	require.ErrorIs(t, err, herald.ErrInvalid, "as one of several pools too")

	pooled, err := herald.New(herald.Options{Pools: []herald.Pool{{Name: "a", Store: memory.New(), Weight: 1}}})
	require.NoError(t, err)
	err = pooled.AddPool(ctx, herald.Pool{Name: "b", Store: st, Weight: 1})
	require.ErrorIs(t, err, herald.ErrInvalid, "AddPool of another Service's store")

	_, err = first.Queue("q").Post(ctx, herald.Draft{Body: []byte("still mine")})
	require.NoError(t, err, "the refusals left the first Service's store alone")
	require.NoError(t, first.Close())
	require.NoError(t, pooled.Close())

	// A store comes free when its Service closes it: a new Service may take
	// a fresh store again, and a pool removed from one Service is closed.
	st2 := memory.New()
	svc, err := herald.New(herald.Options{Pools: []herald.Pool{{Name: "a", Store: memory.New(), Weight: 1}, {Name: "b", Store: st2, Weight: 0}}})
	require.NoError(t, err)
	require.NoError(t, svc.RemovePool(ctx, "b"))
	again, err := herald.New(herald.Options{Store: st2})
	require.NoError(t, err, "the removed pool's store is no longer held (it is closed: calls give ErrClosed)")
	require.NoError(t, again.Close())
	require.NoError(t, svc.Close())
}

// valueStore is a store passed by value whose type is comparable but whose
// value is not: its tag holds a slice. Using it as a map key panics.
type valueStore struct {
	store.Store
	tag any
}

// A store value that cannot be a map key is not tracked (B5 cannot tell
// two of them apart), and New must not panic on it: the type alone is
// comparable here, the value is not.
func TestStoreOfAnUnhashableValue(t *testing.T) {
	st := valueStore{Store: memory.New(), tag: []string{"not hashable"}}
	var svc *herald.Service
	require.NotPanics(t, func() {
		var err error
		svc, err = herald.New(herald.Options{Store: st})
		require.NoError(t, err)
	})
	_, err := svc.Queue("q").Post(context.Background(), herald.Draft{Body: []byte("x")})
	require.NoError(t, err)
	require.NotPanics(t, func() { require.NoError(t, svc.Close()) })
}
