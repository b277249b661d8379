package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

const q = "/v2/queues/q"

// postIDs posts bodies to q and returns the new ids.
func postIDs(t *testing.T, c *client, bodies ...string) []string {
	t.Helper()
	msgs := make([]string, len(bodies))
	for i, b := range bodies {
		msgs[i] = `{"body":` + b + `}`
	}
	r := c.expect(http.StatusCreated, "POST", q+"/messages", `{"messages":[`+strings.Join(msgs, ",")+`]}`)
	var ids []string
	for _, res := range r.json(t)["resources"].([]any) {
		p := res.(string)
		ids = append(ids, p[strings.LastIndex(p, "/")+1:])
	}
	require.Len(t, ids, len(bodies))
	return ids
}

// claim claims up to limit messages of q and returns the claim id.
func claim(t *testing.T, c *client, limit int) string {
	t.Helper()
	r := c.expect(http.StatusCreated, "POST", q+"/claims?limit="+strconv.Itoa(limit), `{"ttl":60,"grace":60}`)
	loc := r.header.Get("Location")
	require.True(t, strings.HasPrefix(loc, q+"/claims/"), loc)
	return strings.TrimPrefix(loc, q+"/claims/")
}

// TestDeleteWithClaimID is zaqar-v2 §4.5: 403 for a claimed message without
// (or with another) claim id, 400 for a malformed claim id or one given for
// an unclaimed message, 204 otherwise (M8).
func TestDeleteWithClaimID(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	ids := postIDs(t, c, `"a"`, `"b"`, `"c"`)
	cid := claim(t, c, 1) // takes a
	msg := q + "/messages/"

	require.Equal(t, "Unable to delete", errorTitle(t, c.expect(http.StatusForbidden, "DELETE", msg+ids[0], "")))
	c.expect(http.StatusBadRequest, "DELETE", msg+ids[0]+"?claim_id=123", "")
	c.expect(http.StatusBadRequest, "DELETE", msg+ids[1]+"?claim_id="+cid, "") // b is not claimed
	other := claim(t, c, 1)                                                    // takes b
	c.expect(http.StatusForbidden, "DELETE", msg+ids[0]+"?claim_id="+other, "")
	c.expect(http.StatusNoContent, "DELETE", msg+ids[0]+"?claim_id="+cid, "")
	c.expect(http.StatusNotFound, "GET", msg+ids[0], "")

	c.expect(http.StatusNoContent, "DELETE", q+"/claims/"+other, "")
	c.expect(http.StatusBadRequest, "DELETE", msg+ids[1]+"?claim_id="+other, "") // released
	c.expect(http.StatusNoContent, "DELETE", msg+ids[1], "")
	c.expect(http.StatusNoContent, "DELETE", msg+ids[1], "")      // idempotent
	c.expect(http.StatusNoContent, "DELETE", msg+"not-an-id", "") // malformed id
	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/none/messages/"+ids[2], "")
}

// TestDeleteWithClaimIDMissingMessage is zaqar-v2 §4.5's first row with a
// claim id: a message that does not exist answers 204, whether it never
// did, a newer claimant settled it after this claim was released, this
// claim's own delete already took it, or the queue is gone, although the
// library refuses such a settle (ErrMessageGone, C3). A malformed claim id
// is still checked first (400).
func TestDeleteWithClaimIDMissingMessage(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	ids := postIDs(t, c, `"a"`, `"b"`)
	msg := q + "/messages/"
	stale := claim(t, c, 1) // takes a
	c.expect(http.StatusNoContent, "DELETE", q+"/claims/"+stale, "")
	newer := claim(t, c, 1) // takes a again
	c.expect(http.StatusNoContent, "DELETE", msg+ids[0]+"?claim_id="+newer, "")

	c.expect(http.StatusNoContent, "DELETE", msg+ids[0]+"?claim_id="+stale, "")                    // settled by the newer claimant
	c.expect(http.StatusNoContent, "DELETE", msg+ids[0]+"?claim_id="+newer, "")                    // a retry of one's own
	c.expect(http.StatusNoContent, "DELETE", msg+"01M99E9P5B7HMQY1AG01WY47ZY?claim_id="+newer, "") // never existed
	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/none/messages/"+ids[1]+"?claim_id="+newer, "")
	c.expect(http.StatusBadRequest, "DELETE", msg+ids[0]+"?claim_id=123", "")
	c.expect(http.StatusNotFound, "GET", msg+ids[0], "")
	c.expect(http.StatusBadRequest, "DELETE", msg+ids[1]+"?claim_id="+stale, "") // b exists, unclaimed
	c.expect(http.StatusOK, "GET", msg+ids[1], "")
}

// TestClaimCreatedOrNoContent is §5.1–5.4: 201 with messages, 204 when there
// is nothing to claim (also on a missing queue); 404 for unknown claims.
func TestClaimCreatedOrNoContent(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	c.expect(http.StatusNoContent, "POST", "/v2/queues/missing/claims", "")
	ids := postIDs(t, c, `1`, `2`)
	r := c.expect(http.StatusCreated, "POST", q+"/claims?limit=5", "")
	msgs := r.json(t)["messages"].([]any)
	require.Len(t, msgs, 2)
	cid := strings.TrimPrefix(r.header.Get("Location"), q+"/claims/")
	require.Equal(t, q+"/messages/"+ids[0]+"?claim_id="+cid, msgs[0].(map[string]any)["href"])
	c.expect(http.StatusNoContent, "POST", q+"/claims", `{"ttl":60}`)

	got := c.expect(http.StatusOK, "GET", q+"/claims/"+cid, "").json(t)
	require.Equal(t, 300.0, got["ttl"])
	require.Equal(t, q+"/claims/"+cid, got["href"])
	c.expect(http.StatusNoContent, "PATCH", q+"/claims/"+cid, `{"ttl":120,"grace":30}`)
	require.Equal(t, 120.0, c.expect(http.StatusOK, "GET", q+"/claims/"+cid, "").json(t)["ttl"])
	c.expect(http.StatusBadRequest, "PATCH", q+"/claims/"+cid, "")
	c.expect(http.StatusBadRequest, "PATCH", q+"/claims/"+cid, "[]")
	c.expect(http.StatusNoContent, "DELETE", q+"/claims/"+cid, "")
	c.expect(http.StatusNoContent, "DELETE", q+"/claims/"+cid, "")
	c.expect(http.StatusNotFound, "GET", q+"/claims/"+cid, "")
	c.expect(http.StatusNotFound, "PATCH", q+"/claims/"+cid, `{"ttl":60}`)
	c.expect(http.StatusNotFound, "GET", q+"/claims/bogus", "")
	c.expect(http.StatusCreated, "POST", q+"/claims", "") // released: claimable again
}

// TestEmptyLastPage: paging with the next links ends on an empty page
// whose links are [] (§3.9, §4.2).
func TestEmptyLastPage(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	for _, n := range []string{"a", "b", "c"} {
		c.expect(http.StatusCreated, "PUT", "/v2/queues/"+n, "")
	}
	postIDs(t, c, `1`, `2`, `3`)
	for _, start := range []string{"/v2/queues?limit=2", q + "/messages?limit=2&echo=true"} {
		next, seen := start, 0
		for {
			m := c.expect(http.StatusOK, "GET", next, "").json(t)
			items := m["queues"]
			if items == nil {
				items = m["messages"]
			}
			links := m["links"].([]any)
			if len(items.([]any)) == 0 {
				require.Empty(t, links)
				break
			}
			seen += len(items.([]any))
			require.Len(t, links, 1)
			next = links[0].(map[string]any)["href"].(string)
		}
		require.Equal(t, map[bool]int{true: 4, false: 3}[strings.HasPrefix(start, "/v2/queues?")], seen, start)
	}
}

// TestMissingQueue: GET, stats and listing of a missing queue answer 200
// with defaults, and do not create it (§3.4, §3.7, §4.2).
func TestMissingQueue(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	m := c.expect(http.StatusOK, "GET", "/v2/queues/nosuch", "").json(t)
	require.Equal(t, map[string]any{
		"_max_messages_post_size": 262144.0, "_default_message_ttl": 3600.0, "_default_message_delay": 0.0,
		"_dead_letter_queue": nil, "_dead_letter_queue_messages_ttl": nil, "_max_claim_count": nil,
	}, m)
	require.JSONEq(t, `{"messages":{"claimed":0,"free":0,"total":0}}`, c.expect(http.StatusOK, "GET", "/v2/queues/nosuch/stats", "").body)
	require.JSONEq(t, `{"messages":[],"links":[]}`, c.expect(http.StatusOK, "GET", "/v2/queues/nosuch/messages", "").body)
	c.expect(http.StatusNotFound, "GET", "/v2/queues/nosuch/messages?ids=01ARZ3NDEKTSV4RRFFQ69G5FAV", "")
	require.JSONEq(t, `{"queues":[],"links":[]}`, c.expect(http.StatusOK, "GET", "/v2/queues", "").body)
	c.expect(http.StatusNoContent, "DELETE", "/v2/queues/nosuch", "")
}

// TestQueueMetadata is §3.2 and §3.5: PUT keeps an existing queue's
// metadata (204); PATCH needs the json-patch type (415), answers 409 for a
// missing non-reserved key, and validates reserved keys.
func TestQueueMetadata(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	r := c.expect(http.StatusCreated, "PUT", q, `{"description":"one","_default_message_ttl":120}`)
	require.Equal(t, q, r.header.Get("Location"))
	c.expect(http.StatusNoContent, "PUT", q, `{"description":"two"}`)
	m := c.expect(http.StatusOK, "GET", q, "").json(t)
	require.Equal(t, "one", m["description"])
	require.Equal(t, 120.0, m["_default_message_ttl"])
	c.expect(http.StatusBadRequest, "PUT", q, `{"_default_message_ttl":10}`)
	c.expect(http.StatusBadRequest, "PUT", q, `[1]`)
	c.expect(http.StatusBadRequest, "PUT", q, `{"_default_message_delay":"x"}`)

	patch := c.with("Content-Type", "application/openstack-messaging-v2.0-json-patch")
	require.Equal(t, http.StatusUnsupportedMediaType, c.with("Content-Type", "application/json").
		do("PATCH", q, `[{"op":"add","path":"/metadata/a","value":1}]`).code)
	require.Equal(t, http.StatusUnsupportedMediaType, c.do("PATCH", q, `[]`).code)
	patch.expect(http.StatusConflict, "PATCH", q, `[{"op":"replace","path":"/metadata/nope","value":1}]`)
	patch.expect(http.StatusConflict, "PATCH", q, `[{"op":"remove","path":"/metadata/nope"}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"move","path":"/metadata/a"}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"add","path":"/metadata//a","value":1}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"add","path":"/other/a","value":1}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"add","path":"/metadata/a"}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"add","path":"/metadata/a~2","value":1}]`)
	patch.expect(http.StatusBadRequest, "PATCH", q, ``)
	patch.expect(http.StatusBadRequest, "PATCH", q, `[{"op":"add","path":"/metadata/_default_message_ttl","value":5}]`)
	patch.expect(http.StatusNotFound, "PATCH", "/v2/queues/nosuch", `[{"op":"add","path":"/metadata/a","value":1}]`)
	m = patch.expect(http.StatusOK, "PATCH", q, `[{"op":"add","path":"/metadata/a~1b","value":[1]},`+
		`{"op":"replace","path":"/metadata/_max_claim_count","value":3},{"op":"remove","path":"/metadata/description"},`+
		`{"op":"remove","path":"/metadata/_dead_letter_queue"}]`).json(t)
	require.Equal(t, []any{1.0}, m["a/b"])
	require.Equal(t, 3.0, m["_max_claim_count"])
	require.NotContains(t, m, "description")
	require.Equal(t, m, c.expect(http.StatusOK, "GET", q, "").json(t))
}

// readBarrier holds GetQueue calls, once armed for n, until n of them
// have read, so that n read-modify-writes all start from the same
// metadata and all but one must find it changed when they write.
type readBarrier struct {
	store.Store
	mu    sync.Mutex
	n     int
	reads int
	all   chan struct{}
}

func (b *readBarrier) arm(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n, b.reads, b.all = n, 0, make(chan struct{})
}

func (b *readBarrier) GetQueue(ctx context.Context, p store.GetQueueParams) (store.QueueInfo, error) {
	info, err := b.Store.GetQueue(ctx, p)
	b.mu.Lock()
	b.reads++
	hold, all := b.reads <= b.n, b.all
	if b.reads == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	if hold {
		select {
		case <-all:
		case <-ctx.Done():
		}
	}
	return info, err
}

// TestConcurrentPatchesKeepEveryKey is §3.5 under concurrency: PATCHes
// that each add their own key, all reading the same metadata first, each
// answer 200, and every key is stored.
func TestConcurrentPatchesKeepEveryKey(t *testing.T) {
	const writers = 8
	st := &readBarrier{Store: memory.New()}
	svc, err := herald.New(herald.Options{Store: st, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	c := &client{t: t, h: httpapi.New(svc, httpapi.Options{}), headers: map[string]string{"Client-ID": testClient, "X-Project-ID": testProject}}
	c.expect(http.StatusCreated, "PUT", q, `{"start":true}`)

	patch := c.with("Content-Type", "application/openstack-messaging-v2.0-json-patch")
	st.arm(writers)
	codes := make([]int, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			codes[w] = patch.do("PATCH", q, fmt.Sprintf(`[{"op":"add","path":"/metadata/k%d","value":%d}]`, w, w)).code
		})
	}
	wg.Wait()
	m := c.expect(http.StatusOK, "GET", q, "").json(t)
	for w, code := range codes {
		require.Equal(t, http.StatusOK, code, "writer %d", w)
		require.Equal(t, float64(w), m[fmt.Sprintf("k%d", w)], "writer %d's key", w)
	}
	require.Equal(t, true, m["start"])
}

// countingReader counts what the handler reads of an endless body.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	r.n += len(p)
	return len(p), nil
}

// TestBodyCaps: a body over its cap answers 413 — at once for a declared
// Content-Length, and after at most the cap for a chunked one.
func TestBodyCaps(t *testing.T) {
	h, _ := newHandler(t, httpapi.Options{MaxMessagesPostSize: 1000, MaxQueueMetadata: 500})
	send := func(method, path string, body io.Reader, length int64) int {
		req := httptest.NewRequest(method, path, body)
		req.ContentLength = length
		req.Header.Set("Client-ID", testClient)
		req.Header.Set("X-Project-ID", testProject)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for _, path := range []string{q + "/messages", q + "/claims", q + "/subscriptions", q + "/purge"} {
		r := &countingReader{}
		require.Equal(t, http.StatusRequestEntityTooLarge, send("POST", path, r, 1<<40), path)
		require.Zero(t, r.n, path)
		r = &countingReader{}
		require.Equal(t, http.StatusRequestEntityTooLarge, send("POST", path, r, -1), path)
		require.LessOrEqual(t, r.n, 64<<10, path)
	}
	require.Equal(t, http.StatusRequestEntityTooLarge, send("PUT", q, &countingReader{}, -1))
	big := `{"messages":[{"body":"` + strings.Repeat("x", 990) + `"}]}`
	require.Equal(t, http.StatusRequestEntityTooLarge, send("POST", q+"/messages", strings.NewReader(big), int64(len(big))))
	ok := `{"messages":[{"body":"` + strings.Repeat("x", 900) + `"}]}`
	require.Equal(t, http.StatusCreated, send("POST", q+"/messages", strings.NewReader(ok), int64(len(ok))))
}

// TestBadInput: Zaqar's status codes for bad headers, names, parameters
// and bodies; never a panic.
func TestBadInput(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	postIDs(t, c, `1`)
	for _, tc := range []struct {
		c            *client
		method, path string
		body         string
		code         int
	}{
		{c.with("Client-ID", ""), "GET", "/v2/queues", "", 400},
		{c.with("Client-ID", "not-a-uuid"), "GET", "/v2/queues", "", 400},
		{c.with("Client-ID", "{3CDBD9E21B9A4B4B9E0E6F1F9F1D0A01}"), "GET", "/v2/queues", "", 200},
		{c.with("Client-ID", "urn:uuid:3cdbd9e2-1b9a-4b4b-9e0e-6f1f9f1d0a01"), "GET", "/v2/queues", "", 200},
		{c.with("X-Project-ID", ""), "GET", "/v2/queues", "", 400},
		{c.with("X-Project-ID", "a/b"), "GET", "/v2/queues", "", 400},
		{c.with("X-Project-ID", strings.Repeat("p", 257)), "GET", q, "", 400},
		{c.with("Accept", "text/html"), "GET", "/v2/queues", "", 406},
		{c.with("Accept", "text/html, application/json;q=0.9"), "GET", "/v2/queues", "", 200},
		{c.with("Content-Type", "application/x-www-form-urlencoded"), "POST", q + "/messages", "a=b", 400},
		{c, "GET", "/v2/queues/Nice-Bo@t/messages", "", 400},
		{c, "POST", "/v2/queues/" + strings.Repeat("q", 65) + "/messages", `{"messages":[{"body":1}]}`, 400},
		{c, "GET", "/v2/queues?limit=0", "", 400},
		{c, "GET", "/v2/queues?limit=21", "", 400},
		{c, "GET", "/v2/queues?limit=x", "", 400},
		{c, "GET", "/v2/queues?detailed=None", "", 400},
		{c, "GET", q + "/messages?echo=maybe", "", 400},
		{c, "GET", q + "/messages?include_claimed=2", "", 400},
		{c, "GET", q + "/messages?limit=-1", "", 400},
		{c, "GET", q + "/messages?marker=bogus", "", 200},
		{c, "GET", q + "/messages?ids=" + strings.Repeat("a,", 21), "", 400},
		{c, "GET", q + "/messages/bogus", "", 404},
		{c, "DELETE", q + "/messages", "", 400},
		{c, "DELETE", q + "/messages?ids=a&pop=1", "", 400},
		{c, "DELETE", q + "/messages?pop=0", "", 400},
		{c, "DELETE", q + "/messages?pop=21", "", 400},
		{c, "DELETE", q + "/messages?pop=x", "", 400},
		{c, "POST", q + "/messages", "", 400},
		{c, "POST", q + "/messages", `[{"body":1}]`, 400},
		{c, "POST", q + "/messages", `{}`, 400},
		{c, "POST", q + "/messages", `"x"`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"ttl":60}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"ttl":59}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"ttl":1209601}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"ttl":1.5}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"ttl":"60"}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"ttl":99999999999999999999}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":1,"delay":901}]}`, 400},
		{c, "POST", q + "/messages", `{"messages":[1]}`, 400},
		{c, "POST", q + "/messages", "{\"messages\":[{\"body\":\"\xff\"}]}", 400},
		{c, "POST", q + "/messages", `{"messages":[{"body":null}]}`, 201},
		{c, "POST", q + "/claims", `[]`, 400},
		{c, "POST", q + "/claims", `"fail"`, 400},
		{c, "POST", q + "/claims", `.`, 400},
		{c, "POST", q + "/claims", `{"ttl":43201}`, 400},
		{c, "POST", q + "/claims", `{"grace":10}`, 400},
		{c, "POST", q + "/claims?limit=21", "", 400},
		{c, "POST", q + "/claims?limit=-1", "", 400},
		{c, "POST", q + "/purge", `{"resource_types":["queues"]}`, 400},
		{c, "POST", q + "/purge", `{"other":1}`, 400},
		{c, "GET", "/v2/nothing", "", 404},
		{c, "PUT", "/v2/queues", "", 405},
	} {
		r := tc.c.do(tc.method, tc.path, tc.body)
		require.Equal(t, tc.code, r.code, "%s %s %q: %s", tc.method, tc.path, tc.body, r.body)
		if tc.code >= 400 {
			errorTitle(t, r)
		}
	}
}

// TestProjectsIsolated (T1): nothing of one project is visible to another.
func TestProjectsIsolated(t *testing.T) {
	a := newClient(t, httpapi.Options{})
	b := a.with("X-Project-ID", "other")
	ids := postIDs(t, a, `"secret"`)
	cid := claim(t, a, 1)
	require.JSONEq(t, `{"queues":[],"links":[]}`, b.expect(http.StatusOK, "GET", "/v2/queues", "").body)
	require.JSONEq(t, `{"messages":{"claimed":0,"free":0,"total":0}}`, b.expect(http.StatusOK, "GET", q+"/stats", "").body)
	b.expect(http.StatusNotFound, "GET", q+"/messages/"+ids[0], "")
	b.expect(http.StatusNotFound, "GET", q+"/claims/"+cid, "")
	b.expect(http.StatusNoContent, "DELETE", q+"/messages/"+ids[0]+"?claim_id="+cid, "")
	b.expect(http.StatusNoContent, "DELETE", q, "")
	a.expect(http.StatusOK, "GET", q+"/messages/"+ids[0], "")
}

// TestEcho (M6): a client does not see its own messages without echo=true;
// another client does. Client-IDs are compared as UUIDs.
func TestEcho(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	postIDs(t, c, `1`)
	list := func(c *client, query string) int {
		return len(c.expect(http.StatusOK, "GET", q+"/messages"+query, "").json(t)["messages"].([]any))
	}
	require.Equal(t, 0, list(c, ""))
	require.Equal(t, 0, list(c.with("Client-ID", strings.ToUpper(strings.ReplaceAll(testClient, "-", ""))), ""))
	require.Equal(t, 1, list(c, "?echo=true"))
	require.Equal(t, 1, list(c.with("Client-ID", "0cdbd9e2-1b9a-4b4b-9e0e-6f1f9f1d0a01"), ""))
}

// TestTokenAuth: with TokenAuth a request needs a known token; a token bound
// to a project acts for it whatever X-Project-ID says; EXTRA-SPEC bypasses
// nothing.
func TestTokenAuth(t *testing.T) {
	c := newClient(t, httpapi.Options{Auth: httpapi.TokenAuth(map[string]string{"s3cret": "", "bound": "tenant"})})
	c.expect(http.StatusUnauthorized, "GET", "/v2/queues", "")
	c.with("EXTRA-SPEC", "messagecode:x").expect(http.StatusUnauthorized, "GET", "/v2/queues", "")
	c.with("X-Auth-Token", "wrong").expect(http.StatusUnauthorized, "GET", "/v2/queues", "")
	c.with("Authorization", "Basic czNjcmV0").expect(http.StatusUnauthorized, "GET", "/v2/queues", "")
	c.with("Authorization", "Bearer s3cret").expect(http.StatusCreated, "PUT", q, "")
	c.with("X-Auth-Token", "bound", "X-Project-ID", "").expect(http.StatusCreated, "PUT", "/v2/queues/t", "")
	got := c.with("X-Auth-Token", "s3cret", "X-Project-ID", "tenant").expect(http.StatusOK, "GET", "/v2/queues", "").json(t)
	require.Len(t, got["queues"], 1)
	c.expect(http.StatusMultipleChoices, "GET", "/", "")
}

// TestTrackProject: TrackProject reports the project a request was served
// under: a bound token's, not the X-Project-ID claimed; the header's where
// the token lets it decide; none for a refused request.
func TestTrackProject(t *testing.T) {
	c := newClient(t, httpapi.Options{Auth: httpapi.TokenAuth(map[string]string{"free": "", "bound": "tenant"})})
	var served string
	h := c.h
	c.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, project := httpapi.TrackProject(r)
		h.ServeHTTP(w, r)
		served = project()
	})
	for _, tc := range []struct{ token, want string }{{"bound", "tenant"}, {"free", testProject}, {"wrong", ""}} {
		c.with("X-Auth-Token", tc.token).do("GET", "/v2/queues", "")
		require.Equal(t, tc.want, served, "token %q", tc.token)
	}

	// Nested: an outer middleware's TrackProject sees the project too, not
	// "" for a slot the inner call hid.
	var outer string
	inner := c.h
	c.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tracked, project := httpapi.TrackProject(r)
		again, _ := httpapi.TrackProject(tracked)
		require.Same(t, tracked, again, "a tracked request is returned as it is")
		inner.ServeHTTP(w, tracked)
		outer = project()
	})
	c.with("X-Auth-Token", "bound").do("GET", "/v2/queues", "")
	require.Equal(t, "tenant", served)
	require.Equal(t, "tenant", outer)
}

// TestSignedURL is §6: a pre-signed URL grants its methods on its paths
// without a token; anything else about it answers 404.
func TestSignedURL(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	o := httpapi.Options{Auth: httpapi.TokenAuth(map[string]string{"tok": ""}), SignedURLKey: "key",
		Now: func() time.Time { return now }}
	c := newClient(t, o)
	authed := c.with("X-Auth-Token", "tok")
	postIDs(t, authed, `1`)
	authed.expect(http.StatusBadRequest, "POST", q+"/share", `{"expires":"2020-01-01T00:00:00"}`)
	authed.expect(http.StatusBadRequest, "POST", q+"/share", `{"paths":["queues"]}`)
	authed.expect(http.StatusBadRequest, "POST", q+"/share", `{"bogus":1}`)
	s := authed.expect(http.StatusOK, "POST", q+"/share", `{"methods":["GET","POST"]}`).json(t)
	require.Equal(t, "2026-11-22T12:00:00", s["expires"])
	require.Equal(t, []any{q + "/messages"}, s["paths"])
	require.Equal(t, testProject, s["project"])
	signed := c.with("URL-Signature", s["signature"].(string), "URL-Expires", s["expires"].(string),
		"URL-Methods", "GET,POST", "URL-Paths", q+"/messages")
	signed.expect(http.StatusOK, "GET", q+"/messages?echo=true", "")
	signed.expect(http.StatusCreated, "POST", q+"/messages", `{"messages":[{"body":2}]}`)
	signed.expect(http.StatusNotFound, "DELETE", q+"/messages?pop=1", "")
	signed.expect(http.StatusNotFound, "GET", q+"/claims/x", "")
	signed.expect(http.StatusNotFound, "GET", "/v2/queues/q2/messages", "")
	signed.with("X-Project-ID", "other").expect(http.StatusNotFound, "GET", q+"/messages", "")
	signed.with("URL-Signature", "00"+s["signature"].(string)[2:]).expect(http.StatusNotFound, "GET", q+"/messages", "")
	signed.with("URL-Methods", "GET,POST,DELETE").expect(http.StatusNotFound, "DELETE", q+"/messages?pop=1", "")
	now = now.Add(25 * time.Hour)
	signed.expect(http.StatusNotFound, "GET", q+"/messages", "")
}

// TestSubscriptions is §7.2–7.3.
func TestSubscriptions(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	sp := q + "/subscriptions"
	c.expect(http.StatusBadRequest, "POST", sp, "")
	c.expect(http.StatusBadRequest, "POST", sp, `{"ttl":60}`)
	c.expect(http.StatusBadRequest, "POST", sp, `{"subscriber":"ftp://x"}`)
	c.expect(http.StatusBadRequest, "POST", sp, `{"subscriber":"http://x","options":[]}`)
	c.expect(http.StatusBadRequest, "POST", sp, `{"subscriber":"http://x","ttl":59}`)
	r := c.expect(http.StatusCreated, "POST", sp, `{"subscriber":"http://127.0.0.1:9/a","ttl":600,"options":{"k":"v"}}`)
	require.Equal(t, sp, r.header.Get("Location"))
	id := r.json(t)["subscription_id"].(string)
	require.Equal(t, id, c.expect(http.StatusCreated, "POST", sp, `{"subscriber":"http://127.0.0.1:9/a"}`).json(t)["subscription_id"])
	c.expect(http.StatusCreated, "POST", sp, `{"subscriber":"mailto:a@example.com"}`)

	got := c.expect(http.StatusOK, "GET", sp+"/"+id, "").json(t)
	require.Equal(t, "q", got["source"])
	require.Equal(t, 600.0, got["ttl"])
	require.Equal(t, map[string]any{"k": "v"}, got["options"])
	list := c.expect(http.StatusOK, "GET", sp+"?limit=1", "").json(t)
	require.Len(t, list["subscriptions"], 1)
	require.Len(t, list["links"], 1)

	c.expect(http.StatusNoContent, "PATCH", sp+"/"+id, `{"ttl":900,"options":{"k":"w"}}`)
	got = c.expect(http.StatusOK, "GET", sp+"/"+id, "").json(t)
	require.Equal(t, 900.0, got["ttl"])
	c.expect(http.StatusConflict, "PATCH", sp+"/"+id, `{"subscriber":"mailto:a@example.com"}`)
	c.expect(http.StatusBadRequest, "PATCH", sp+"/"+id, ``)
	c.expect(http.StatusBadRequest, "PATCH", sp+"/"+id, `[]`)
	c.expect(http.StatusNotFound, "PATCH", sp+"/01ARZ3NDEKTSV4RRFFQ69G5FAV", `{"ttl":900}`)
	c.expect(http.StatusNoContent, "PUT", sp+"/"+id+"/confirm", `{"confirmed":false}`)
	require.Equal(t, false, c.expect(http.StatusOK, "GET", sp+"/"+id, "").json(t)["confirmed"])
	c.expect(http.StatusBadRequest, "PUT", sp+"/"+id+"/confirm", `{"confirmed":"yes"}`)
	c.expect(http.StatusNotFound, "PUT", sp+"/bogus/confirm", `{"confirmed":true}`)
	c.expect(http.StatusNoContent, "DELETE", sp+"/"+id, "")
	c.expect(http.StatusNoContent, "DELETE", sp+"/"+id, "")
	c.expect(http.StatusNotFound, "GET", sp+"/"+id, "")
	c.expect(http.StatusNoContent, "POST", q+"/purge", `{"resource_types":["subscriptions"]}`)
	require.JSONEq(t, `{"subscriptions":[],"links":[]}`, c.expect(http.StatusOK, "GET", sp, "").body)
}

// TestHealthAndPing is §9.2.
func TestHealthAndPing(t *testing.T) {
	c := newClient(t, httpapi.Options{})
	c.expect(http.StatusNoContent, "GET", "/v2/ping", "")
	c.expect(http.StatusNoContent, "HEAD", "/v2/ping", "")
	// A health probe must send both headers, as the README says: ping
	// is no exception to "every route but GET / needs them".
	c.with("Client-ID", "").expect(http.StatusBadRequest, "GET", "/v2/ping", "")
	c.with("X-Project-ID", "").expect(http.StatusBadRequest, "GET", "/v2/ping", "")
	c.with("Client-ID", "", "X-Project-ID", "").expect(http.StatusMultipleChoices, "GET", "/", "")
	c.expect(http.StatusForbidden, "GET", "/v2/health", "")
	c.with("X-Roles", "admin").expect(http.StatusForbidden, "GET", "/v2/health", "")
	admin := newClient(t, httpapi.Options{Admin: true})
	admin.expect(http.StatusForbidden, "GET", "/v2/health", "")
	require.Equal(t, true, admin.with("X-Roles", "admin").expect(http.StatusOK, "GET", "/v2/health", "").json(t)["storage_reachable"])
	r := c.expect(http.StatusOK, "GET", "/v2/", "")
	require.Equal(t, "application/json-home", r.header.Get("Content-Type"))
	c.expect(http.StatusOK, "GET", "/v2", "")
}
