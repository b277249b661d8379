package httpapi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/httpapi"
)

// FuzzDecoders sends arbitrary bodies and query strings to every route that
// decodes one: the answer is never a panic or a 5xx.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"body":{"a":1},"ttl":60,"delay":0}]}`, `[{"body":1}]`, `{"messages":[]}`,
		`{"ttl":300,"grace":60}`, `[{"op":"add","path":"/metadata/a~1b","value":1}]`,
		`{"subscriber":"http://127.0.0.1:9/x","ttl":60,"options":{}}`, `{"resource_types":["messages"]}`,
		`{"paths":["messages"],"methods":["GET"],"expires":"2099-01-01T00:00:00"}`, `{"confirmed":true}`,
		`{"_default_message_ttl":1e400}`, "\xff", `{"messages":[{"body":1,"ttl":-1}]}`,
	} {
		for route := range uint8(10) {
			f.Add(route, s, "limit=2&echo=true")
		}
	}
	c := newClient(f, httpapi.Options{SignedURLKey: "k"})
	patch := c.with("Content-Type", "application/openstack-messaging-v2.0-json-patch")
	routes := []struct {
		c            *client
		method, path string
	}{
		{c, "POST", q + "/messages"}, {c, "PUT", q}, {patch, "PATCH", q}, {c, "POST", q + "/claims"},
		{c, "PATCH", q + "/claims/01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {c, "POST", q + "/subscriptions"},
		{c, "POST", q + "/purge"}, {c, "POST", q + "/share"}, {c, "GET", q + "/messages"},
		{c, "DELETE", q + "/messages"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body, query string) {
		r := routes[int(route)%len(routes)]
		c := *r.c
		c.t = t
		res := c.do(r.method, r.path+"?"+sanitizeQuery(query), body)
		require.Less(t, res.code, 500, "%s %s %q: %s", r.method, r.path, body, res.body)
	})
}

// sanitizeQuery keeps a fuzzed query string a valid request target.
func sanitizeQuery(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f || c == '#' || c == '%' {
			b[i] = '_'
		}
	}
	return string(b)
}

// FuzzAdminDecoders does the same for the pools and flavors admin routes.
func FuzzAdminDecoders(f *testing.F) {
	for _, s := range []string{
		`{"uri":"mem:a","weight":1}`, `{"uri":"mem:b","weight":1,"flavor":"f","options":{}}`,
		`{"weight":4294967296}`, `{"uri":"","weight":-1}`, `{"pool_list":["p"]}`, `{"pool_list":[]}`,
		`{"uri":"mem:c","weight":1,"extra":1}`, `[]`, "\xff",
	} {
		for route := range uint8(4) {
			f.Add(route, s, "detailed=true&limit=2")
		}
	}
	c, _ := newPooledClient(f, httpapi.Options{})
	routes := []struct{ method, path string }{
		{"PUT", "/v2/pools/p"}, {"PATCH", "/v2/pools/p"}, {"PUT", "/v2/flavors/f"}, {"PATCH", "/v2/flavors/f"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body, query string) {
		r := routes[int(route)%len(routes)]
		c := *c
		c.t = t
		res := c.do(r.method, r.path+"?"+sanitizeQuery(query), body)
		require.Less(t, res.code, 500, "%s %s %q: %s", r.method, r.path, body, res.body)
	})
}
