package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// testOpenPool opens "mem:" and "redis:" URIs as memory stores, refuses
// "taken:" as a conflict and anything else as unreachable.
func testOpenPool(uri string, options json.RawMessage) (store.Store, error) {
	switch {
	case strings.HasPrefix(uri, "mem:"), strings.HasPrefix(uri, "redis:"):
		return memory.New(), nil
	case strings.HasPrefix(uri, "taken:"):
		return nil, fmt.Errorf("%s is the server's own store: %w", uri, herald.ErrConflict)
	}
	return nil, errors.New("no such store")
}

// newPooledClient serves a Service made with one pool, "default", which
// is the handler's VirtualPool, with the admin routes on; the client
// sends X-Roles: admin.
func newPooledClient(t testing.TB, o httpapi.Options) (*client, *herald.Service) {
	t.Helper()
	svc, err := herald.New(herald.Options{
		Pools:         []herald.Pool{{Name: "default", Store: memory.New(), Weight: 1}},
		SweepInterval: -1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	o.Admin = true
	if o.OpenPool == nil {
		o.OpenPool = testOpenPool
	}
	o.VirtualPool = "default"
	return &client{t: t, h: httpapi.New(svc, o), headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject,
		"X-Roles": "admin"}}, svc
}

// placedOn returns the pool a queue of the test project is on.
func placedOn(t *testing.T, svc *herald.Service, queue string) string {
	t.Helper()
	p, err := svc.Project(testProject).Queue(queue).Pool(t.Context())
	require.NoError(t, err)
	return p
}

// §8.1: create, upsert, get, list, patch and delete a pool.
func TestPools(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{})
	r := c.expect(http.StatusOK, "GET", "/v2/pools", "")
	require.JSONEq(t, `{"links": [], "pools": []}`, r.body)

	r = c.expect(http.StatusCreated, "PUT", "/v2/pools/pool1", `{"uri":"mem://1","weight":100,"options":{"a":1}}`)
	require.Equal(t, "/v2/pools/pool1", r.header.Get("Location"))
	require.Empty(t, r.body)
	c.expect(http.StatusCreated, "PUT", "/v2/pools/pool1", `{"uri":"mem://1","weight":100,"options":{"a":1}}`)

	r = c.expect(http.StatusOK, "GET", "/v2/pools/pool1", "")
	require.JSONEq(t, `{"name":"pool1","uri":"mem://1","weight":100,"flavor":null,"href":"/v2/pools/pool1"}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/pools/pool1?detailed=true", "")
	require.JSONEq(t, `{"name":"pool1","uri":"mem://1","weight":100,"flavor":null,"options":{"a":1},"href":"/v2/pools/pool1"}`, r.body)

	for i := 2; i <= 3; i++ {
		c.expect(http.StatusCreated, "PUT", fmt.Sprintf("/v2/pools/pool%d", i), fmt.Sprintf(`{"uri":"mem://%d","weight":1}`, i))
	}
	r = c.expect(http.StatusOK, "GET", "/v2/pools?limit=2&detailed=true", "")
	require.JSONEq(t, `{"links":[{"rel":"next","href":"/v2/pools?detailed=true&limit=2&marker=pool2"}],"pools":[
		{"name":"pool1","uri":"mem://1","weight":100,"flavor":null,"options":{"a":1},"href":"/v2/pools/pool1"},
		{"name":"pool2","uri":"mem://2","weight":1,"flavor":null,"options":{},"href":"/v2/pools/pool2"}]}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/pools?detailed=true&limit=2&marker=pool2", "")
	require.JSONEq(t, `{"links":[{"rel":"next","href":"/v2/pools?detailed=true&limit=2&marker=pool3"}],"pools":[
		{"name":"pool3","uri":"mem://3","weight":1,"flavor":null,"options":{},"href":"/v2/pools/pool3"}]}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/pools?limit=2&marker=pool3", "")
	require.JSONEq(t, `{"links":[],"pools":[]}`, r.body)

	r = c.expect(http.StatusOK, "PATCH", "/v2/pools/pool1", `{"weight":50}`)
	require.JSONEq(t, `{"name":"pool1","uri":"mem://1","weight":50,"flavor":null,"href":"/v2/pools/pool1"}`, r.body)
	r = c.expect(http.StatusOK, "PATCH", "/v2/pools/pool1", `{"options":{"b":2},"flavor":null}`)
	require.JSONEq(t, `{"name":"pool1","uri":"mem://1","weight":50,"flavor":null,"href":"/v2/pools/pool1"}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/pools/pool1?detailed=true", "")
	require.Equal(t, map[string]any{"b": 2.0}, r.json(t)["options"])
	// An upsert replaces every field.
	c.expect(http.StatusCreated, "PUT", "/v2/pools/pool1", `{"uri":"mem://1","weight":7}`)
	r = c.expect(http.StatusOK, "GET", "/v2/pools/pool1?detailed=true", "")
	require.JSONEq(t, `{"name":"pool1","uri":"mem://1","weight":7,"flavor":null,"options":{},"href":"/v2/pools/pool1"}`, r.body)

	c.expect(http.StatusNoContent, "DELETE", "/v2/pools/pool1", "")
	c.expect(http.StatusNoContent, "DELETE", "/v2/pools/pool1", "")
	r = c.expect(http.StatusNotFound, "GET", "/v2/pools/pool1", "")
	require.JSONEq(t, `{"title":"Not found","description":"Pool pool1 does not exist"}`, r.body)
	c.expect(http.StatusNotFound, "PATCH", "/v2/pools/pool1", `{"weight":1}`)
	// The uri is free again.
	c.expect(http.StatusCreated, "PUT", "/v2/pools/again", `{"uri":"mem://1","weight":1}`)
}

// Bad pool requests: Zaqar's schema checks, unreachable and taken URIs.
func TestPoolsBadInput(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{})
	c.expect(http.StatusCreated, "PUT", "/v2/pools/p", `{"uri":"mem://p","weight":1}`)
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"PUT", "/v2/pools/x", ``, 400},
		{"PUT", "/v2/pools/x", `{`, 400},
		{"PUT", "/v2/pools/x", `[]`, 400},
		{"PUT", "/v2/pools/x", `{"weight":1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x"}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":1,"group":"g"}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":-1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":4294967296}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":"1"}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":1.5}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":1,"weight":1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"no scheme","weight":1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://` + strings.Repeat("x", 250) + `","weight":1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":1,"options":[]}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mem://x","weight":1,"flavor":3}`, 400},
		{"PUT", "/v2/pools/" + strings.Repeat("n", 65), `{"uri":"mem://x","weight":1}`, 400},
		{"PUT", "/v2/pools/b@d", `{"uri":"mem://x","weight":1}`, 400},
		{"PUT", "/v2/pools/x", `{"uri":"mongodb://nowhere","weight":1}`, 400}, // cannot connect
		{"PUT", "/v2/pools/x", `{"uri":"mem://p","weight":1}`, 409},           // p's uri
		{"PUT", "/v2/pools/x", `{"uri":"taken://main","weight":1}`, 409},      // the server's store
		{"PUT", "/v2/pools/default", `{"uri":"mem://d","weight":1}`, 409},     // the virtual pool
		{"PATCH", "/v2/pools/p", `{}`, 400},
		{"PATCH", "/v2/pools/p", `{"weight":-2}`, 400},
		{"PATCH", "/v2/pools/p", `{"name":"q"}`, 400},
		{"PATCH", "/v2/pools/p", `{"uri":"mongodb://nowhere"}`, 400},
		{"PATCH", "/v2/pools/p", ``, 400},
		{"GET", "/v2/pools?limit=0", ``, 400},
		{"GET", "/v2/pools?limit=21", ``, 400},
		{"GET", "/v2/pools?limit=x", ``, 400},
		{"GET", "/v2/pools?detailed=maybe", ``, 400},
		{"GET", "/v2/pools/p?detailed=maybe", ``, 400},
		{"GET", "/v2/pools/default", ``, 404},
		{"POST", "/v2/pools/p", `{}`, 405},
	} {
		r := c.do(tc.method, tc.path, tc.body)
		require.Equal(t, tc.code, r.code, "%s %s %s: %s", tc.method, tc.path, tc.body, r.body)
		errorTitle(t, r)
	}
	r := c.expect(http.StatusOK, "GET", "/v2/pools?detailed=true", "")
	require.JSONEq(t, `{"links":[{"rel":"next","href":"/v2/pools?detailed=true&marker=p"}],"pools":[
		{"name":"p","uri":"mem://p","weight":1,"flavor":null,"options":{},"href":"/v2/pools/p"}]}`, r.body, "nothing changed")

	// Admin routes need a project and a Client-ID like any other.
	c.with("X-Project-ID", "").expect(http.StatusBadRequest, "GET", "/v2/pools", "")
	c.with("Client-ID", "").expect(http.StatusBadRequest, "GET", "/v2/pools", "")
	big := `{"uri":"mem://big","weight":1,"options":{"x":"` + strings.Repeat("x", 70<<10) + `"}}`
	c.expect(http.StatusRequestEntityTooLarge, "PUT", "/v2/pools/big", big)
}

// Without Admin, or without OpenPool, the pools and flavors routes are
// not served, as in Zaqar without admin_mode or pooling.
func TestPoolsNotServed(t *testing.T) {
	for _, o := range []httpapi.Options{{Admin: true}, {OpenPool: testOpenPool}} {
		c := newClient(t, o)
		for _, path := range []string{"/v2/pools", "/v2/pools/p", "/v2/flavors", "/v2/flavors/f"} {
			c.expect(http.StatusNotFound, "GET", path, "")
		}
	}
	// A Service without a catalog cannot take pools.
	c := newClient(t, httpapi.Options{Admin: true, OpenPool: testOpenPool}).with("X-Roles", "admin")
	c.expect(http.StatusNotImplemented, "PUT", "/v2/pools/p", `{"uri":"mem://p","weight":1}`)
	c.expect(http.StatusOK, "GET", "/v2/pools", "")
	c.expect(http.StatusNotImplemented, "GET", "/v2/flavors", "")
}

// §8.3 with the virtual pool: new queues without a flavor go to pools
// made over HTTP while one has a weight, else to the virtual pool; queues
// stay where they were placed.
func TestPoolsPlaceQueues(t *testing.T) {
	c, svc := newPooledClient(t, httpapi.Options{})
	c.expect(http.StatusCreated, "PUT", "/v2/queues/before", "")
	require.Equal(t, "default", placedOn(t, svc, "before"))

	c.expect(http.StatusCreated, "PUT", "/v2/pools/p1", `{"uri":"mem://1","weight":10}`)
	for i := range 10 {
		c.expect(http.StatusCreated, "PUT", fmt.Sprintf("/v2/queues/q%d", i), "")
		require.Equal(t, "p1", placedOn(t, svc, fmt.Sprintf("q%d", i)))
	}
	require.Equal(t, "default", placedOn(t, svc, "before"))

	c.expect(http.StatusOK, "PATCH", "/v2/pools/p1", `{"weight":0}`)
	c.expect(http.StatusCreated, "PUT", "/v2/queues/weightless", "")
	require.Equal(t, "default", placedOn(t, svc, "weightless"))
	c.expect(http.StatusOK, "PATCH", "/v2/pools/p1", `{"weight":5}`)

	// A pool holding queues is not removed, and its uri does not change.
	r := c.expect(http.StatusForbidden, "DELETE", "/v2/pools/p1", "")
	require.Equal(t, "Unable to delete", errorTitle(t, r))
	r = c.expect(http.StatusConflict, "PATCH", "/v2/pools/p1", `{"uri":"mem://other"}`)
	errorTitle(t, r)
	r = c.expect(http.StatusOK, "GET", "/v2/pools/p1", "")
	require.Equal(t, "mem://1", r.json(t)["uri"])
	c.expect(http.StatusCreated, "POST", "/v2/queues/q0/messages", `{"messages":[{"body":"still here","ttl":60}]}`)

	for i := range 10 {
		c.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/v2/queues/q%d", i), "")
	}
	// Empty, it may move to another uri, and go.
	r = c.expect(http.StatusOK, "PATCH", "/v2/pools/p1", `{"uri":"mem://other","options":{"k":"v"}}`)
	require.Equal(t, "mem://other", r.json(t)["uri"])
	c.expect(http.StatusCreated, "PUT", "/v2/queues/moved", "")
	require.Equal(t, "p1", placedOn(t, svc, "moved"))
	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/moved", "")
	c.expect(http.StatusNoContent, "DELETE", "/v2/pools/p1", "")
	c.expect(http.StatusCreated, "PUT", "/v2/queues/after", "")
	require.Equal(t, "default", placedOn(t, svc, "after"))
}

// Flavors belong to a project: deleting a flavor another project has of
// the same name leaves this project's flavor and its pools' links alone.
func TestFlavorDeleteStaysInItsProject(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{})
	c.expect(http.StatusCreated, "PUT", "/v2/pools/p1", `{"uri":"mem://1","weight":1}`)
	c.expect(http.StatusCreated, "PUT", "/v2/flavors/gold", `{"pool_list":["p1"]}`)
	other := c.with("X-Project-ID", "someone-else")
	other.expect(http.StatusNoContent, "DELETE", "/v2/flavors/gold", "")
	r := c.expect(http.StatusOK, "GET", "/v2/pools/p1", "")
	require.Contains(t, r.body, `"flavor":"gold"`)
	r = c.expect(http.StatusOK, "GET", "/v2/flavors/gold", "")
	require.Contains(t, r.body, `"p1"`)
}
