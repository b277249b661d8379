package load_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/internal/load"
	"github.com/heraldmq/herald/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunWithToken drives a server with token auth: without the token the
// run stops at the first request (401); with it every message is moved,
// in the project the token is pinned to.
func TestRunWithToken(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	auth := httpapi.TokenAuth(map[string]string{"s3cret": "pinned"})
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{Auth: auth}))
	defer srv.Close()
	o := load.Options{URL: srv.URL, Producers: 2, Consumers: 2, Messages: 20, Batch: 5, Client: srv.Client()}

	_, err = load.Run(t.Context(), o)
	require.ErrorContains(t, err, "401")

	o.Token = "s3cret"
	r, err := load.Run(t.Context(), o)
	require.NoError(t, err)
	require.EqualValues(t, 20, r.Posted)
	require.EqualValues(t, 20, r.Deleted)
	qs, err := svc.Project("pinned").ListQueues(t.Context(), herald.ListQueuesOptions{Limit: 10})
	require.NoError(t, err)
	require.Len(t, qs, 1)
	require.Equal(t, "load", qs[0].Name)
}
