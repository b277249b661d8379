package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// damagedStats is a memory store whose stats count two damaged messages.
type damagedStats struct{ store.Store }

func (d damagedStats) QueueStats(ctx context.Context, p store.QueueStatsParams) (store.Stats, error) {
	st, err := d.Store.QueueStats(ctx, p)
	st.Damaged = 2
	return st, err
}

// M11 over HTTP: stats show a damaged count only when there is one, so
// Zaqar's answer is unchanged otherwise.
func TestStatsDamaged(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	postIDs(t, c, `1`)
	require.NotContains(t, c.expect(http.StatusOK, "GET", q+"/stats", "").json(t)["messages"], "damaged")

	svc, err := herald.New(herald.Options{Store: damagedStats{memory.New()}, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	c = &client{t: t, h: httpapi.New(svc, httpapi.Options{}), headers: c.headers}
	postIDs(t, c, `1`)
	require.Equal(t, 2.0, c.expect(http.StatusOK, "GET", q+"/stats", "").json(t)["messages"].(map[string]any)["damaged"])
}
