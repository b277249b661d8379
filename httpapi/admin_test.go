package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/httpapi"
)

// adminRoutes are the admin routes (zaqar-v2 §8, §9.2), each with a body
// that would work for an admin of newPooledClient after adminFixture.
var adminRoutes = [][3]string{
	{"GET", "/v2/health", ""},
	{"GET", "/v2/pools", ""}, {"GET", "/v2/pools/p", ""},
	{"PUT", "/v2/pools/p2", `{"uri":"mem://p2","weight":1}`}, {"PATCH", "/v2/pools/p", `{"weight":5}`},
	{"DELETE", "/v2/pools/p", ""},
	{"GET", "/v2/flavors", ""}, {"GET", "/v2/flavors/f", ""},
	{"PUT", "/v2/flavors/g", `{"pool_list":["p2"]}`}, {"PATCH", "/v2/flavors/f", `{"pool_list":["p"]}`},
	{"DELETE", "/v2/flavors/f", ""},
}

// adminState is what the admin routes show, for "nothing changed".
func adminState(t *testing.T, admin *client) string {
	return admin.expect(http.StatusOK, "GET", "/v2/pools?detailed=true", "").body +
		admin.expect(http.StatusOK, "GET", "/v2/flavors?detailed=true", "").body
}

// Under noauth (Options.Auth nil) the admin routes answer only requests
// whose X-Roles header lists admin, as Zaqar's role:admin policy does
// with roles from X-Roles: any other caller gets Zaqar's 403 and changes
// nothing (issue 14 item 4).
func TestAdminRoutesNeedAdminRole(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{})
	admin := c.with("X-Roles", "admin")
	admin.expect(http.StatusCreated, "PUT", "/v2/pools/p", `{"uri":"mem://p","weight":1}`)
	admin.expect(http.StatusCreated, "PUT", "/v2/flavors/f", `{"pool_list":["p"]}`)
	before := adminState(t, admin)
	for _, roles := range []string{"", "member", "administrator", "admins", "reader,member", " ", "admin-x,member", `"admin"`} {
		cl := c.with("X-Roles", roles)
		for _, rt := range adminRoutes {
			r := cl.expect(http.StatusForbidden, rt[0], rt[1], rt[2])
			require.JSONEq(t, `{"title":"Not authorized","description":"You are not authorized to complete this action."}`, r.body,
				"X-Roles %q: %s %s", roles, rt[0], rt[1])
		}
		require.Equal(t, before, adminState(t, admin), "X-Roles %q changed something", roles)
	}
	// Roles are a comma list, matched without regard to case or spaces;
	// several header lines add up, as in oslo.context.
	for _, roles := range []string{"admin", "Admin", "member,admin", " member , ADMIN "} {
		c.with("X-Roles", roles).expect(http.StatusOK, "GET", "/v2/health", "")
		c.with("X-Roles", roles).expect(http.StatusOK, "GET", "/v2/pools", "")
	}
	req := httptest.NewRequest("GET", "/v2/pools", nil)
	req.Header.Set("Client-ID", testClient)
	req.Header.Set("X-Project-ID", testProject)
	req.Header.Add("X-Roles", "member")
	req.Header.Add("X-Roles", "admin")
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// The admin's own requests work (the pool stays: a flavor holds it).
	for _, rt := range adminRoutes {
		if rt[1] != "/v2/pools/p" || rt[0] != "DELETE" {
			admin.expect(map[string]int{"GET": http.StatusOK, "PUT": http.StatusCreated, "PATCH": http.StatusOK, "DELETE": http.StatusNoContent}[rt[0]], rt[0], rt[1], rt[2])
		}
	}
}

// With an Options.IsAdmin the X-Roles header counts for nothing; with an
// Auth and no IsAdmin every caller Auth lets in is an admin (documented).
func TestAdminRolesHeaderIgnoredWithIsAdmin(t *testing.T) {
	c, _ := newPooledClient(t, httpapi.Options{
		Auth:    httpapi.TokenAuth(map[string]string{"user": "", "boss": ""}),
		IsAdmin: httpapi.TokenIn("boss"),
	})
	c.with("X-Auth-Token", "user", "X-Roles", "admin").expect(http.StatusForbidden, "GET", "/v2/pools", "")
	c.with("X-Auth-Token", "boss", "X-Roles", "").expect(http.StatusOK, "GET", "/v2/pools", "")
	c.with("X-Auth-Token", "boss").expect(http.StatusOK, "GET", "/v2/health", "")

	open, _ := newPooledClient(t, httpapi.Options{Auth: httpapi.TokenAuth(map[string]string{"user": ""})})
	open.with("X-Auth-Token", "user", "X-Roles", "").expect(http.StatusOK, "GET", "/v2/pools", "")
}
