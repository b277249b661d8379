package owner_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/owner"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Take is all or none, and a store comes free when its holder gives it up.
func TestTakeAllOrNone(t *testing.T) {
	a, b := memory.New(), memory.New()
	one, two := new(int), new(int)
	require.NoError(t, owner.Take(one, a))
	require.ErrorIs(t, owner.Take(two, b, a), store.ErrInvalid)
	require.NoError(t, owner.Take(one, a, b), "b was not taken by the refused call")
	owner.Give(two, a) // not two's: nothing happens
	require.ErrorIs(t, owner.Take(two, a), store.ErrInvalid)
	owner.Give(one, a, b)
	require.NoError(t, owner.Take(two, a, b))
	owner.Give(two, a, b)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}
