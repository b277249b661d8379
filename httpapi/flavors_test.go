package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/httpapi"
)

// §8.2: a flavor's pools get it as their flavor and take its queues;
// patching and deleting the flavor moves the links; the last pool of a
// flavor is not deleted.
func TestFlavors(t *testing.T) {
	c, svc := newPooledClient(t, httpapi.Options{})
	// A pool may name its flavor before the flavor exists.
	c.expect(http.StatusCreated, "PUT", "/v2/pools/a", `{"uri":"mem://a","weight":1,"flavor":"fast"}`)
	c.expect(http.StatusCreated, "PUT", "/v2/pools/b", `{"uri":"mem://b","weight":1}`)
	r := c.expect(http.StatusOK, "GET", "/v2/pools/a", "")
	require.Equal(t, "fast", r.json(t)["flavor"])

	r = c.expect(http.StatusCreated, "PUT", "/v2/flavors/fast", `{"pool_list":["a"],"capabilities":{}}`)
	require.Equal(t, "/v2/flavors/fast", r.header.Get("Location"))
	r = c.expect(http.StatusOK, "GET", "/v2/flavors/fast", "")
	require.JSONEq(t, `{"name":"fast","capabilities":["1","2","4"],"pool_list":["a"],"href":"/v2/flavors/fast"}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/flavors", "")
	require.JSONEq(t, `{"links":[{"rel":"next","href":"/v2/flavors?marker=fast"}],"flavors":[{"name":"fast","href":"/v2/flavors/fast","pool_list":["a"]}]}`, r.body)
	r = c.expect(http.StatusOK, "GET", "/v2/flavors?detailed=true&marker=fast", "")
	require.JSONEq(t, `{"links":[],"flavors":[]}`, r.body)
	c.with("X-Project-ID", "other").expect(http.StatusNotFound, "GET", "/v2/flavors/fast", "")

	// Queues with the flavor go to its pools; others never do.
	c.expect(http.StatusCreated, "PUT", "/v2/queues/fq", `{"_flavor":"fast"}`)
	require.Equal(t, "a", placedOn(t, svc, "fq"))
	for _, q := range []string{"p1", "p2", "p3", "p4"} {
		c.expect(http.StatusCreated, "PUT", "/v2/queues/"+q, "")
		require.Equal(t, "b", placedOn(t, svc, q))
	}
	r = c.expect(http.StatusBadRequest, "PUT", "/v2/queues/nf", `{"_flavor":"none"}`)
	errorTitle(t, r)

	// The last pool of a flavor stays, and keeps it.
	r = c.expect(http.StatusForbidden, "DELETE", "/v2/pools/a", "")
	require.Equal(t, "Unable to delete", errorTitle(t, r))
	c.expect(http.StatusForbidden, "PATCH", "/v2/pools/a", `{"flavor":""}`)
	c.expect(http.StatusForbidden, "PUT", "/v2/pools/a", `{"uri":"mem://a","weight":1}`)

	// A pool joining by its flavor field joins the project's flavor.
	c.expect(http.StatusCreated, "PUT", "/v2/pools/c", `{"uri":"mem://c","weight":1,"flavor":"fast"}`)
	r = c.expect(http.StatusOK, "GET", "/v2/flavors/fast", "")
	require.Equal(t, []any{"a", "c"}, r.json(t)["pool_list"])
	r = c.expect(http.StatusOK, "PATCH", "/v2/pools/c", `{"flavor":null}`)
	require.Nil(t, r.json(t)["flavor"])
	r = c.expect(http.StatusOK, "GET", "/v2/flavors/fast", "")
	require.Equal(t, []any{"a"}, r.json(t)["pool_list"])

	// PATCH moves the flavor to b: a loses it, b gains it.
	r = c.expect(http.StatusOK, "PATCH", "/v2/flavors/fast", `{"pool_list":["b"]}`)
	require.JSONEq(t, `{"name":"fast","capabilities":["1","2","4"],"pool_list":["b"],"href":"/v2/flavors/fast"}`, r.body)
	require.Nil(t, c.expect(http.StatusOK, "GET", "/v2/pools/a", "").json(t)["flavor"])
	require.Equal(t, "fast", c.expect(http.StatusOK, "GET", "/v2/pools/b", "").json(t)["flavor"])
	c.expect(http.StatusCreated, "PUT", "/v2/queues/fq2", `{"_flavor":"fast"}`)
	require.Equal(t, "b", placedOn(t, svc, "fq2"))
	c.expect(http.StatusCreated, "PUT", "/v2/queues/plain", "")
	require.Contains(t, []string{"a", "c"}, placedOn(t, svc, "plain"))

	// Deleting the flavor clears its pools' flavor.
	c.expect(http.StatusNoContent, "DELETE", "/v2/flavors/fast", "")
	c.expect(http.StatusNoContent, "DELETE", "/v2/flavors/fast", "")
	c.expect(http.StatusNotFound, "GET", "/v2/flavors/fast", "")
	require.Nil(t, c.expect(http.StatusOK, "GET", "/v2/pools/b", "").json(t)["flavor"])
	c.expect(http.StatusBadRequest, "PUT", "/v2/queues/fq3", `{"_flavor":"fast"}`)
	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/plain", "")
	c.expect(http.StatusNoContent, "DELETE", "/v2/pools/c", "")
}

// Bad flavor requests.
func TestFlavorsBadInput(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{})
	c.expect(http.StatusCreated, "PUT", "/v2/pools/p", `{"uri":"mem://p","weight":1}`)
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"PUT", "/v2/flavors/f", ``, 400},
		{"PUT", "/v2/flavors/f", `nope`, 400},
		{"PUT", "/v2/flavors/f", `{}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":[]}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":"p"}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":[1]}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":["nope"]}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":["default"]}`, 400}, // the virtual pool
		{"PUT", "/v2/flavors/f", `{"pool_list":["p"],"capabilities":[]}`, 400},
		{"PUT", "/v2/flavors/f", `{"pool_list":["p"],"project":"x"}`, 400},
		{"PUT", "/v2/flavors/" + strings.Repeat("f", 65), `{"pool_list":["p"]}`, 400},
		{"PATCH", "/v2/flavors/f", `{"pool_list":["p"]}`, 404},
		{"GET", "/v2/flavors/f", ``, 404},
		{"GET", "/v2/flavors?limit=0", ``, 400},
		{"GET", "/v2/flavors?detailed=2", ``, 400},
	} {
		r := c.do(tc.method, tc.path, tc.body)
		require.Equal(t, tc.code, r.code, "%s %s %s: %s", tc.method, tc.path, tc.body, r.body)
		errorTitle(t, r)
	}
	c.expect(http.StatusCreated, "PUT", "/v2/flavors/f", `{"pool_list":["p","p"]}`)
	r := c.expect(http.StatusOK, "GET", "/v2/flavors/f", "")
	require.Equal(t, []any{"p"}, r.json(t)["pool_list"])
	for _, body := range []string{`{}`, `{"pool_list":[]}`, `{"pool_list":["nope"]}`, `{"weight":1}`} {
		c.expect(http.StatusBadRequest, "PATCH", "/v2/flavors/f", body)
	}
	r = c.expect(http.StatusOK, "GET", "/v2/flavors/f", "")
	require.Equal(t, []any{"p"}, r.json(t)["pool_list"], "nothing changed")
}
