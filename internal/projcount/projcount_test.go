package projcount_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/projcount"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A count is read from the catalog once, then kept by Inc and Add.
func TestCountReadOnceThenKept(t *testing.T) {
	ctx := context.Background()
	cat := memory.New()
	defer cat.Close()
	for _, name := range []string{"a", "b"} {
		require.NoError(t, cat.PutPlacement(ctx, store.Placement{Queue: store.QueueRef{Project: "p", Name: name}, Pool: "x", Created: time.Unix(1, 0)}))
	}
	var cs projcount.Counts
	cs.Add("p", 5) // not read yet: ignored, the catalog is the truth
	c, err := cs.Lock(ctx, cat, "p")
	require.NoError(t, err)
	require.Equal(t, 2, c.N())
	c.Inc()
	c.Unlock()
	cs.Add("p", -1)
	c, err = cs.Lock(ctx, cat, "p")
	require.NoError(t, err)
	require.Equal(t, 2, c.N(), "kept, not read again")
	c.Unlock()
}
