package httpapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
)

// exchange is one request and answer recorded from the real Zaqar server
// (testdata/golden-v2-*.txt, copied from ../shared/zaqar-golden).
type exchange struct {
	method, path, body string
	status             int
	header             http.Header
	respBody           string
}

func loadGolden(t *testing.T, file string) []exchange {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var out []exchange
	var cur *exchange
	inBody := false
	var body strings.Builder
	flush := func() {
		if cur != nil && cur.method != "" && cur.status != 0 {
			cur.respBody = strings.TrimSpace(body.String())
			out = append(out, *cur)
		}
		cur, inBody = &exchange{header: http.Header{}}, false
		body.Reset()
	}
	flush()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "====="):
			flush()
		case strings.HasPrefix(line, "###"):
		case strings.HasPrefix(line, ">>> body: "):
			cur.body = strings.TrimPrefix(line, ">>> body: ")
		case strings.HasPrefix(line, ">>> "):
			f := strings.Fields(line)
			cur.method, cur.path = f[1], f[2]
		case strings.HasPrefix(line, "HTTP/1."):
			if cur.status != 0 { // an answer recorded without its request
				flush()
			}
			cur.status, _ = strconv.Atoi(strings.Fields(line)[1])
		case cur.status != 0 && !inBody:
			if line == "" {
				inBody = true
				continue
			}
			k, v, _ := strings.Cut(line, ": ")
			cur.header.Add(k, v)
		case inBody:
			body.WriteString(line + "\n")
		}
	}
	flush()
	require.NoError(t, sc.Err())
	return out
}

var (
	goldenID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24}`)
	ourID    = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)
)

// idMap learns which herald id stands for which recorded Zaqar id, from
// answers compared side by side, and rewrites later requests with it.
type idMap map[string]string

func (m idMap) rewrite(s string) string {
	return goldenID.ReplaceAllStringFunc(s, func(g string) string {
		if o, ok := m[g]; ok {
			return o
		}
		return g
	})
}

// compareJSON compares a recorded JSON value with herald's, modulo ids
// (learnt into m), ages and timestamps, and the order of query parameters
// in hrefs.
func compareJSON(t *testing.T, m idMap, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		require.True(t, ok, "%s: want an object, got %v", path, got)
		keys := func(x map[string]any) []string {
			var ks []string
			for k := range x {
				ks = append(ks, k)
			}
			return ks
		}
		require.ElementsMatch(t, keys(w), keys(g), "%s: keys", path)
		for k, v := range w {
			if k == "age" || k == "created" {
				continue
			}
			compareJSON(t, m, path+"."+k, v, g[k])
		}
	case []any:
		g, ok := got.([]any)
		require.True(t, ok, "%s: want an array, got %v", path, got)
		require.Len(t, g, len(w), "%s", path)
		for i := range w {
			compareJSON(t, m, path+"["+strconv.Itoa(i)+"]", w[i], g[i])
		}
	case string:
		g, ok := got.(string)
		require.True(t, ok, "%s: want a string, got %v", path, got)
		compareString(t, m, path, w, g)
	default:
		require.Equal(t, want, got, "%s", path)
	}
}

func compareString(t *testing.T, m idMap, path, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	ws, gs := goldenID.FindAllString(want, -1), ourID.FindAllString(got, -1)
	require.Len(t, gs, len(ws), "%s: %q vs %q", path, want, got)
	for i, w := range ws {
		if prev, ok := m[w]; ok {
			require.Equal(t, prev, gs[i], "%s: id %s", path, w)
		}
		m[w] = gs[i]
	}
	want = goldenID.ReplaceAllString(want, "ID")
	got = ourID.ReplaceAllString(got, "ID")
	wu, err1 := url.Parse(want)
	gu, err2 := url.Parse(got)
	if err1 == nil && err2 == nil && wu.RawQuery != "" {
		require.Equal(t, wu.Path, gu.Path, "%s", path)
		require.Equal(t, wu.Query(), gu.Query(), "%s", path)
		return
	}
	require.Equal(t, want, got, "%s", path)
}

// goldenFix says how herald's answer to one recorded request differs on
// purpose (see DEVIATIONS in doc.go), or what the recording lacks.
type goldenFix struct {
	header http.Header               // extra request headers
	body   string                    // request body the recording left out
	status int                       // herald's status, if not Zaqar's
	skip   bool                      // do not compare the body
	edit   func(want map[string]any) // turn Zaqar's answer into herald's
}

func dropEncrypt(w map[string]any) {
	delete(w, "_enable_encrypt_messages")
}

// withoutForcedDelayed drops the include_delayed=true Zaqar forces into
// next links on queues without a default delay.
func withoutForcedDelayed(w map[string]any) {
	for _, l := range w["links"].([]any) {
		l := l.(map[string]any)
		u, _ := url.Parse(l["href"].(string))
		q := u.Query()
		q.Del("include_delayed")
		u.RawQuery = q.Encode()
		l["href"] = u.String()
	}
}

// statsRefs keeps only href, age and created in oldest and newest (redis
// leaks more).
func statsRefs(w map[string]any) {
	ms := w["messages"].(map[string]any)
	for _, k := range []string{"oldest", "newest"} {
		if r, ok := ms[k].(map[string]any); ok {
			for f := range r {
				if f != "href" && f != "age" && f != "created" {
					delete(r, f)
				}
			}
		}
	}
}

// claimExtended: herald extends every claimed message that would expire
// before the claim's expiry plus grace (C2), so the 300 s message claimed
// for 300 s + 60 s grace shows 360 s; Zaqar leaves a message expiring in
// the same second as the claim alone.
func claimExtended(w map[string]any) {
	w["messages"].([]any)[0].(map[string]any)["ttl"] = 360.0
}

var goldenFixes = map[string]goldenFix{
	"GET /": {edit: func(w map[string]any) {
		vs := w["versions"].([]any)
		w["versions"] = vs[len(vs)-1:] // herald serves v2 only
	}},
	"GET /v2/health#2":      {skip: true, status: http.StatusForbidden}, // recorded with an admin role
	"PUT /v2/topics/smoket": {status: http.StatusNotFound, skip: true},  // no topics
	"GET /v2/queues?detailed=true&limit=10": {edit: func(w map[string]any) {
		dropEncrypt(w["queues"].([]any)[0].(map[string]any)["metadata"].(map[string]any))
	}},
	"GET /v2/queues/smokeq": {edit: dropEncrypt},
	"PATCH /v2/queues/smokeq": {
		header: http.Header{"Content-Type": {"application/openstack-messaging-v2.0-json-patch"}},
		body:   `[{"op":"replace","path":"/metadata/description","value":"patched"}]`,
		edit:   dropEncrypt,
	},
	"GET /v2/queues/smokeq/messages?echo=true&limit=2":                                                                  {edit: withoutForcedDelayed},
	"GET /v2/queues/smokeq/messages?limit=2&echo=true&include_delayed=true&marker=ae16eb87-ad7f-497a-9e4d-60e0e435cc0a": {},
	// A Zaqar (redis) bug: 503 where the listing works.
	"GET /v2/queues/smokeq/messages?echo=true&include_claimed=true":       {status: http.StatusOK, skip: true},
	"GET /v2/queues/smokeq/messages?echo=true&marker=":                    {edit: withoutForcedDelayed},
	"GET /v2/queues/smokeq/stats#2":                                       {edit: statsRefs},
	"GET /v2/queues/smokeq/stats#3":                                       {edit: statsRefs},
	"POST /v2/queues/smokeq/claims?limit=2":                               {edit: claimExtended},
	"GET /v2/queues/smokeq/claims/3afefae8-950e-4d4c-af25-fb55f10a87b2#1": {edit: claimExtended},
	// herald pops without a claim, and counts every claim (C6).
	"DELETE /v2/queues/smokeq/messages?pop=1": {edit: func(w map[string]any) {
		m := w["messages"].([]any)[0].(map[string]any)
		m["claim_id"], m["claim_count"] = nil, 1.0
	}},
	// Subscriptions start confirmed without RequireConfirmation.
	"GET /v2/queues/smokeq/subscriptions": {edit: func(w map[string]any) {
		w["subscriptions"].([]any)[0].(map[string]any)["confirmed"] = true
	}},
}

// TestGoldenSmoke replays the exchanges recorded from Zaqar against herald
// in order, comparing status, Content-Type, Location and JSON bodies.
func TestGoldenSmoke(t *testing.T) {
	exchanges := loadGolden(t, "testdata/golden-v2-smoke.txt")
	require.Greater(t, len(exchanges), 40)
	ids := replayGolden(t, newClient(t, httpapi.Options{}), exchanges, goldenFixes)
	require.Len(t, ids, 3+1+2+1+1, "ids learnt: %v", ids) // 3 messages, a claim, 2 more, a claim, a subscription
}

// herald's flavors declare FIFO, CLAIMS and AOD (see DEVIATIONS).
func heraldCapabilities(f map[string]any) { f["capabilities"] = []any{"1", "2", "4"} }

var goldenPooledFixes = map[string]goldenFix{
	"GET /v2/flavors/flavor1": {edit: heraldCapabilities},
	"GET /v2/flavors?detailed=true": {edit: func(w map[string]any) {
		heraldCapabilities(w["flavors"].([]any)[0].(map[string]any))
	}},
	// herald's health has no per-pool timed operations.
	"GET /v2/health": {skip: true},
	// net/http's mux answers HEAD on GET routes; herald's health is cheap.
	"HEAD /v2/health": {status: http.StatusOK, skip: true},
}

// TestGoldenAdminPooled replays the pools, flavors and health exchanges
// recorded from a pooled Zaqar (testdata/golden-v2-admin-pooled.txt).
func TestGoldenAdminPooled(t *testing.T) {
	exchanges := loadGolden(t, "testdata/golden-v2-admin-pooled.txt")
	require.Greater(t, len(exchanges), 15)
	c, svc := newPooledClient(t, httpapi.Options{})
	ids := replayGolden(t, c, exchanges, goldenPooledFixes)
	require.Len(t, ids, 1, "ids learnt: %v", ids) // the message in pool1
	_, err := svc.Pool(t.Context(), "pool1")
	require.ErrorIs(t, err, herald.ErrNotFound, "pool1 was deleted")
}

// replayGolden replays exchanges in order against c, with fixes by
// "METHOD path" (or "METHOD path#n" for its nth occurrence), and returns
// the ids it learnt.
func replayGolden(t *testing.T, c *client, exchanges []exchange, fixes map[string]goldenFix) idMap {
	t.Helper()
	ids := idMap{}
	seen := map[string]int{}
	for _, ex := range exchanges {
		key := ex.method + " " + ex.path
		seen[key]++
		fix, ok := fixes[key+"#"+strconv.Itoa(seen[key])]
		if !ok {
			fix = fixes[key]
		}
		t.Run(key, func(t *testing.T) {
			cl := c
			for k, v := range fix.header {
				cl = cl.with(k, v[0])
			}
			body := ex.body
			if fix.body != "" {
				body = fix.body
			}
			r := cl.do(ex.method, ids.rewrite(ex.path), ids.rewrite(body))
			want := ex.status
			if fix.status != 0 {
				want = fix.status
			}
			require.Equal(t, want, r.code, "body: %s", r.body)
			if fix.skip {
				return
			}
			if ct := ex.header.Get("Content-Type"); ct != "" && ex.respBody != "" {
				require.Equal(t, ct, r.header.Get("Content-Type"))
			}
			if loc := ex.header.Get("Location"); loc != "" {
				compareString(t, ids, "Location", loc, r.header.Get("Location"))
			}
			require.NotEmpty(t, r.header.Get("X-Openstack-Request-Id"))
			if ex.respBody == "" {
				require.Empty(t, r.body)
				return
			}
			var w, g map[string]any
			require.NoError(t, json.Unmarshal([]byte(ex.respBody), &w))
			require.NoError(t, json.Unmarshal([]byte(r.body), &g), "body %q", r.body)
			if fix.edit != nil {
				fix.edit(w)
			}
			compareJSON(t, ids, "body", w, g)
		})
	}
	return ids
}
