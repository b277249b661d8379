package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
)

// The limits on queues per project and subscriptions per queue (L1, L2)
// answer as Zaqar answers what its limits forbid: 400 "Invalid API
// request", the description naming the limit; at the limit, 201.
func TestLimitsAnswer400(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1,
		Limits: herald.Limits{MaxQueuesPerProject: 2, MaxSubscriptionsPerQueue: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	c := &client{t: t, h: httpapi.New(svc, httpapi.Options{}), headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject}}

	c.expect(http.StatusCreated, "PUT", "/v2/queues/a", `{}`)
	c.expect(http.StatusCreated, "POST", "/v2/queues/b/messages", `{"messages":[{"body":1}]}`)
	c.expect(http.StatusNoContent, "PUT", "/v2/queues/a", `{}`) // exists: not a creation
	for _, r := range []response{
		c.expect(http.StatusBadRequest, "PUT", "/v2/queues/c", `{}`),
		c.expect(http.StatusBadRequest, "POST", "/v2/queues/c/messages", `{"messages":[{"body":1}]}`),
		c.expect(http.StatusBadRequest, "POST", "/v2/queues/c/subscriptions", `{"subscriber":"http://example.com/c","ttl":3600}`),
	} {
		require.Equal(t, "Invalid API request", errorTitle(t, r))
		require.Contains(t, r.json(t)["description"], "Limits.MaxQueuesPerProject 2")
	}
	c.with("X-Project-ID", "another").expect(http.StatusCreated, "PUT", "/v2/queues/c", `{}`)

	c.expect(http.StatusCreated, "POST", "/v2/queues/a/subscriptions", `{"subscriber":"http://example.com/1","ttl":3600}`)
	r := c.expect(http.StatusBadRequest, "POST", "/v2/queues/a/subscriptions", `{"subscriber":"http://example.com/2","ttl":3600}`)
	require.Equal(t, "Invalid API request", errorTitle(t, r))
	require.Contains(t, r.json(t)["description"], "Limits.MaxSubscriptionsPerQueue 1")
	c.expect(http.StatusCreated, "POST", "/v2/queues/b/subscriptions", `{"subscriber":"http://example.com/2","ttl":3600}`)

	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/b", "")
	c.expect(http.StatusCreated, "PUT", "/v2/queues/c", `{}`)
}
