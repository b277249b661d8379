package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
)

// signedFixture is a token-auth server with a signing key and two
// projects' copies of queue q, each holding one message. Tokens are bound
// to their projects, so a signature is the only way to act for a project
// without its token.
type signedFixture struct {
	t    *testing.T
	c    *client // no token
	svc  *herald.Service
	now  time.Time
	toks map[string]string // project → its token
}

func newSignedFixture(t *testing.T, projects ...string) *signedFixture {
	f := &signedFixture{t: t, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), toks: map[string]string{}}
	tokens := map[string]string{}
	for i, p := range projects {
		tok := fmt.Sprintf("tok-%d", i)
		tokens[tok], f.toks[p] = p, tok
	}
	h, svc := newHandler(t, httpapi.Options{Auth: httpapi.TokenAuth(tokens), SignedURLKey: "key",
		Now: func() time.Time { return f.now }})
	f.svc = svc
	f.c = &client{t: t, h: h, headers: map[string]string{"Client-ID": testClient}}
	for _, p := range projects {
		postIDs(t, f.as(p), `"`+p+`'s message"`)
	}
	return f
}

// as is a client holding project's token.
func (f *signedFixture) as(project string) *client {
	return f.c.with("X-Auth-Token", f.toks[project], "X-Project-ID", project)
}

// share asks for a pre-signed URL of q as project.
func (f *signedFixture) share(project, body string) map[string]any {
	return f.as(project).expect(http.StatusOK, "POST", q+"/share", body).json(f.t)
}

// signedHeaders are the headers that use a share answer, as a client sends
// them: each list joined by commas.
func signedHeaders(s map[string]any) map[string]string {
	join := func(k string) string {
		var parts []string
		for _, v := range s[k].([]any) {
			parts = append(parts, v.(string))
		}
		return strings.Join(parts, ",")
	}
	return map[string]string{
		"URL-Signature": s["signature"].(string), "URL-Expires": s["expires"].(string),
		"URL-Methods": join("methods"), "URL-Paths": join("paths"), "X-Project-ID": s["project"].(string),
	}
}

// snapshot is every message of every project's q, claimed or not.
func (f *signedFixture) snapshot() map[string][]string {
	out := map[string][]string{}
	for p := range f.toks {
		ms, err := f.svc.Project(p).Queue("q").List(f.t.Context(), herald.ListOptions{IncludeClaimed: true, IncludeDelayed: true, Echo: true})
		require.NoError(f.t, err)
		for _, m := range ms {
			out[p] = append(out[p], m.ID.String()+"="+string(m.Body))
		}
	}
	return out
}

// TestSignedURLCrossProjectForge is the forge of issue 14 item 2: under
// Zaqar's encoding (fields joined by the two characters backslash and n) a
// signature issued to project `Z\nB` for DELETE,GET verified for
// `URL-Methods: DELETE,GET\nZ` with project B, and popped B's message.
func TestSignedURLCrossProjectForge(t *testing.T) {
	const attacker, victim = `Z\nB`, "B"
	f := newSignedFixture(t, attacker, victim)
	s := f.share(attacker, `{"methods":["GET","DELETE"]}`)
	before := f.snapshot()

	forged := f.c.with("URL-Signature", s["signature"].(string), "URL-Expires", s["expires"].(string),
		"URL-Paths", q+"/messages", "URL-Methods", `DELETE,GET\nZ`, "X-Project-ID", victim)
	r := forged.do("DELETE", q+"/messages?pop=1", "")
	require.Equal(t, http.StatusNotFound, r.code, "the forged signature was accepted: %s", r.body)
	require.Equal(t, before, f.snapshot(), "nothing changed")
	require.Len(t, before[victim], 1)
}

// TestSignedURLTampering is a table of altered pre-signed URL headers: each
// is refused as Zaqar refuses a bad signature (404) and changes nothing;
// the untouched headers then work, so the refusals are the tampering's.
func TestSignedURLTampering(t *testing.T) {
	const owner, victim = "tenant", "victim"
	f := newSignedFixture(t, owner, victim, `Z\nB`, "tenant,x")
	s := f.share(owner, `{"methods":["GET","DELETE"],"paths":["messages","claims"]}`)
	good := signedHeaders(s)
	require.Equal(t, "DELETE,GET", good["URL-Methods"])
	require.Equal(t, q+"/claims,"+q+"/messages", good["URL-Paths"])
	require.Equal(t, "2026-11-22T12:00:00", good["URL-Expires"])
	sig, exp := good["URL-Signature"], good["URL-Expires"]
	other := signedHeaders(f.share(victim, `{"methods":["GET","DELETE"],"paths":["messages","claims"]}`))
	later := signedHeaders(f.share(owner, `{"methods":["GET","DELETE"],"paths":["messages","claims"],"expires":"2026-11-23T12:00:00"}`))
	getOnly := signedHeaders(f.share(owner, `{"methods":["GET"],"paths":["messages","claims"]}`))

	type edit map[string]string // header → value ("" drops it)
	cases := []struct {
		name string
		edit edit
	}{
		{"signature: one digit changed", edit{"URL-Signature": flipHex(sig)}},
		{"signature: upper case", edit{"URL-Signature": strings.ToUpper(sig)}},
		{"signature: truncated", edit{"URL-Signature": sig[:len(sig)-2]}},
		{"signature: padded", edit{"URL-Signature": sig + " "}},
		{"signature: leading space", edit{"URL-Signature": " " + sig}},
		{"signature: another project's", edit{"URL-Signature": other["URL-Signature"]}},
		{"signature: a GET-only one", edit{"URL-Signature": getOnly["URL-Signature"]}},
		{"signature: a later one with this expiry", edit{"URL-Signature": later["URL-Signature"]}},

		{"project: another", edit{"X-Project-ID": victim}},
		{"project: padded", edit{"X-Project-ID": owner + " "}},
		{"project: with a comma", edit{"X-Project-ID": "tenant,x"}},
		{"project: upper case", edit{"X-Project-ID": "TENANT"}},
		{"project: with a literal backslash-n", edit{"X-Project-ID": owner + `\n`}},
		{"project: with a newline", edit{"X-Project-ID": owner + "\n"}},
		{"project: with NUL", edit{"X-Project-ID": owner + "\x00"}},
		{"project: dropped", edit{"X-Project-ID": ""}},

		{"expires: a second later", edit{"URL-Expires": "2026-11-22T12:00:01"}},
		{"expires: a day later", edit{"URL-Expires": "2026-11-23T12:00:00"}},
		{"expires: with Z", edit{"URL-Expires": exp + "Z"}},
		{"expires: with an offset", edit{"URL-Expires": exp + "+00:00"}},
		{"expires: with fractions", edit{"URL-Expires": exp + ".0"}},
		{"expires: with a space", edit{"URL-Expires": "2026-11-22 12:00:00"}},
		{"expires: padded", edit{"URL-Expires": exp + " "}},
		{"expires: with a newline", edit{"URL-Expires": exp + "\n"}},
		{"expires: with a literal backslash-n", edit{"URL-Expires": exp + `\n`}},
		{"expires: an integer", edit{"URL-Expires": "1795435200"}},
		{"expires: dropped", edit{"URL-Expires": ""}},

		{"methods: reordered", edit{"URL-Methods": "GET,DELETE"}},
		{"methods: one dropped", edit{"URL-Methods": "DELETE"}},
		{"methods: one added", edit{"URL-Methods": "DELETE,GET,POST"}},
		{"methods: duplicated", edit{"URL-Methods": "DELETE,DELETE,GET"}},
		{"methods: lower case", edit{"URL-Methods": "delete,get"}},
		{"methods: padded", edit{"URL-Methods": "DELETE, GET"}},
		{"methods: trailing comma", edit{"URL-Methods": "DELETE,GET,"}},
		{"methods: leading comma", edit{"URL-Methods": ",DELETE,GET"}},
		{"methods: unknown method", edit{"URL-Methods": "DELETE,GET,PURGE"}},
		{"methods: with a newline", edit{"URL-Methods": "DELETE,GET\nZ"}},
		{"methods: with CR", edit{"URL-Methods": "DELETE,GET\r"}},
		{"methods: with NUL", edit{"URL-Methods": "DELETE,GET\x00"}},
		{"methods: with a literal backslash-n", edit{"URL-Methods": `DELETE,GET\n`}},
		{"methods: dropped", edit{"URL-Methods": ""}},

		{"paths: reordered", edit{"URL-Paths": q + "/messages," + q + "/claims"}},
		{"paths: one dropped", edit{"URL-Paths": q + "/messages"}},
		{"paths: subscriptions added", edit{"URL-Paths": good["URL-Paths"] + "," + q + "/subscriptions"}},
		{"paths: another queue", edit{"URL-Paths": "/v2/queues/q2/claims,/v2/queues/q2/messages"}},
		{"paths: the queue itself", edit{"URL-Paths": q}},
		{"paths: a message", edit{"URL-Paths": q + "/claims," + q + "/messages/x"}},
		{"paths: trailing slash", edit{"URL-Paths": q + "/claims," + q + "/messages/"}},
		{"paths: dot-dot", edit{"URL-Paths": q + "/claims," + q + "/messages/.."}},
		{"paths: duplicated", edit{"URL-Paths": q + "/claims," + q + "/messages," + q + "/messages"}},
		{"paths: padded", edit{"URL-Paths": q + "/claims, " + q + "/messages"}},
		{"paths: trailing comma", edit{"URL-Paths": good["URL-Paths"] + ","}},
		{"paths: with a newline", edit{"URL-Paths": good["URL-Paths"] + "\n"}},
		{"paths: with a literal backslash-n", edit{"URL-Paths": good["URL-Paths"] + `\nDELETE`}},
		{"paths: dropped", edit{"URL-Paths": ""}},

		// Zaqar's text joins paths, methods, project and expiry with a
		// literal backslash-n: these move text from one field to another.
		{"shift: methods into paths", edit{"URL-Paths": good["URL-Paths"] + `\nDELETE`, "URL-Methods": "GET"}},
		{"shift: project into methods", edit{"URL-Methods": `DELETE,GET\nZ`, "X-Project-ID": "B"}},
		{"shift: paths and methods swapped", edit{"URL-Paths": good["URL-Methods"], "URL-Methods": good["URL-Paths"]}},
		{"shift: expiry into project", edit{"X-Project-ID": owner + `\n` + exp, "URL-Expires": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A fixture of its own, so one accepted case shows alone; its
			// signatures are the same (same key, clock and projects).
			f := newSignedFixture(t, owner, victim, `Z\nB`, "tenant,x")
			before := f.snapshot()
			c := f.c
			for k, v := range good {
				c = c.with(k, v)
			}
			for k, v := range tc.edit {
				c = c.with(k, v)
			}
			for _, req := range [][2]string{{"DELETE", q + "/messages?pop=1"}, {"GET", q + "/messages?echo=true"}} {
				r := c.do(req[0], req[1], "")
				require.Equal(t, http.StatusNotFound, r.code, "%s %s: %s", req[0], req[1], r.body)
				require.Equal(t, "Not found", errorTitle(t, r))
			}
			require.Equal(t, before, f.snapshot(), "nothing changed")
		})
	}

	// Two header lines where one is signed are refused too.
	before := f.snapshot()
	dup := httptest.NewRequest("DELETE", q+"/messages?pop=1", nil)
	dup.Header.Set("Client-ID", testClient)
	for k, v := range good {
		dup.Header.Set(k, v)
	}
	dup.Header.Add("URL-Methods", "POST")
	w := httptest.NewRecorder()
	f.c.h.ServeHTTP(w, dup)
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
	require.Equal(t, before, f.snapshot())

	// The headers as issued work: GET, then the pop they allow.
	c := f.c
	for k, v := range good {
		c = c.with(k, v)
	}
	c.expect(http.StatusOK, "GET", q+"/messages?echo=true", "")
	c.expect(http.StatusOK, "HEAD", q+"/messages?echo=true", "")
	c.expect(http.StatusNotFound, "POST", q+"/messages", `{"messages":[{"body":1}]}`)
	c.expect(http.StatusNotFound, "GET", q+"/subscriptions", "")
	c.expect(http.StatusNotFound, "GET", "/v2/queues/q2/messages", "")
	c.expect(http.StatusOK, "DELETE", q+"/messages?pop=1", "")
	after := f.snapshot()
	require.Empty(t, after[owner], "the owner's message was popped")
	require.Equal(t, before[victim], after[victim])
	f.now = f.now.Add(24 * time.Hour)
	c.expect(http.StatusNotFound, "GET", q+"/messages", "")
}

// TestSignedURLShare is what POST .../share accepts: only known methods,
// each list canonical (sorted, no repeats), expiry in the future.
func TestSignedURLShare(t *testing.T) {
	f := newSignedFixture(t, "tenant")
	a := f.as("tenant")
	for _, body := range []string{
		`{"methods":["GET","FETCH"]}`, `{"methods":["get"]}`, `{"methods":["GET\nZ"]}`,
		`{"methods":["GET,POST"]}`, `{"methods":[""]}`, `{"methods":[]}`, `{"methods":"GET"}`,
		`{"paths":["messages\n"]}`, `{"paths":["../q2/messages"]}`, `{"paths":[]}`,
		`{"expires":"2026-11-21T12:00:00"}`, `{"expires":"2026-11-21T12:00:00.9"}`, `{"expires":"2026-11-21T13:00:00.5+01:00"}`,
		`{"expires":"1795435200"}`, `{"expires":"soon"}`,
	} {
		r := a.do("POST", q+"/share", body)
		require.Equal(t, http.StatusBadRequest, r.code, "%s: %s", body, r.body)
		require.Equal(t, "Invalid API request", errorTitle(t, r), body)
	}
	s := f.share("tenant", `{"methods":["PUT","GET","OPTIONS","HEAD","PATCH","POST","DELETE","GET"],"paths":["messages","claims","messages","subscriptions"],"expires":"2026-11-21T14:00:00.5+01:00"}`)
	require.Equal(t, []any{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}, s["methods"])
	require.Equal(t, []any{q + "/claims", q + "/messages", q + "/subscriptions"}, s["paths"])
	require.Equal(t, "2026-11-21T13:00:00", s["expires"], "UTC, whole seconds")
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}
