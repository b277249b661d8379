package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
)

// notifyClient is a client of the API over a Service with notify options.
func notifyClient(t *testing.T, o herald.NotifyOptions) *client {
	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1, Notify: o})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return &client{t: t, h: httpapi.New(svc, httpapi.Options{}),
		headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject}}
}

// subscriptionsOf lists q's subscriptions as the API shows them, without
// their age (a second may pass between two lists).
func subscriptionsOf(t *testing.T, c *client) []any {
	subs := c.expect(http.StatusOK, "GET", q+"/subscriptions", "").json(t)["subscriptions"].([]any)
	for _, s := range subs {
		delete(s.(map[string]any), "age")
	}
	return subs
}

// With the Service's DenyPrivateTargets (heraldd --deny-private-webhooks)
// a subscriber whose host is a literal address that is not public is
// refused at once, 400 in Zaqar's shape, on POST and on PATCH; names are
// left to the dial.
func TestSubscribeDeniesPrivateLiterals(t *testing.T) {
	c := notifyClient(t, herald.NotifyOptions{DenyPrivateTargets: true})
	sp := q + "/subscriptions"
	for _, u := range []string{"http://127.0.0.1:9/a", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]/", "http://[::ffff:10.0.0.1]/", "http://2130706433/", "http://0x7f.1/", "http://127.1/"} {
		body, _ := json.Marshal(map[string]any{"subscriber": u, "ttl": 600})
		r := c.expect(http.StatusBadRequest, "POST", sp, string(body))
		require.Equal(t, "Invalid API request", errorTitle(t, r), u)
		require.Contains(t, r.json(t)["description"], "not a public address", u)
	}
	require.Empty(t, subscriptionsOf(t, c))

	r := c.expect(http.StatusCreated, "POST", sp, `{"subscriber":"http://localhost:9/a","ttl":600}`)
	id := r.json(t)["subscription_id"].(string)
	before := subscriptionsOf(t, c)
	r = c.expect(http.StatusBadRequest, "PATCH", sp+"/"+id, `{"subscriber":"http://10.1.2.3/"}`)
	require.Equal(t, "Invalid API request", errorTitle(t, r))
	require.Equal(t, before, subscriptionsOf(t, c))

	// Without the option the same literal is taken.
	open := notifyClient(t, herald.NotifyOptions{})
	open.expect(http.StatusCreated, "POST", sp, `{"subscriber":"http://127.0.0.1:9/a","ttl":600}`)
}

// post_headers with CR, LF or other control characters (or bad names) are
// refused with 400 on POST and PATCH, and nothing changes.
func TestSubscribePostHeaders(t *testing.T) {
	c := notifyClient(t, herald.NotifyOptions{})
	sp := q + "/subscriptions"
	bad := []string{`{"X-A":"v\r\nX-Injected: 1"}`, `{"X-A":"v\n"}`, `{"X-A":"v\r"}`, `{"X-A":"a\u0000b"}`,
		`{"X-A\nB":"v"}`, `{"X A":"v"}`, `{"X-A":1}`}
	for _, h := range bad {
		r := c.expect(http.StatusBadRequest, "POST", sp, `{"subscriber":"http://example.com/","options":{"post_headers":`+h+`}}`)
		require.Equal(t, "Invalid API request", errorTitle(t, r), h)
		require.Contains(t, r.json(t)["description"], "post_headers", h)
	}
	require.Empty(t, subscriptionsOf(t, c))

	r := c.expect(http.StatusCreated, "POST", sp, `{"subscriber":"http://example.com/","options":{"post_headers":{"X-Tenant":"acme"}}}`)
	id := r.json(t)["subscription_id"].(string)
	before := subscriptionsOf(t, c)
	for _, h := range bad {
		r := c.expect(http.StatusBadRequest, "PATCH", sp+"/"+id, `{"options":{"post_headers":`+h+`}}`)
		require.Equal(t, "Invalid API request", errorTitle(t, r), h)
	}
	require.Equal(t, before, subscriptionsOf(t, c))
	require.True(t, strings.Contains(c.expect(http.StatusOK, "GET", sp+"/"+id, "").body, `"X-Tenant":"acme"`))
}
