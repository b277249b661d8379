package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldmq/herald/store"
)

// expiresFormat is how pre-signed URLs write their expiry (UTC, no zone,
// whole seconds), as Zaqar does.
const expiresFormat = "2006-01-02T15:04:05"

// signedTextTag opens the signed text and names its layout, so that a
// later layout can be told apart from this one.
const signedTextTag = "herald-signed-url-v1"

// signedMethods are the methods a pre-signed URL may grant (Zaqar's
// list).
var signedMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// signedPaths are the sub-resources of a queue a pre-signed URL may grant.
var signedPaths = []string{"claims", "messages", "subscriptions"}

// signature is the HMAC-SHA256, in hex, of the signed text: the tag, the
// paths, the methods, the project and the expiry, each string prefixed
// with its length in bytes and each list with its count, so that no
// field can borrow bytes from its neighbour whatever the bytes are.
// Zaqar joins the fields with the two characters backslash and n, which a
// field may contain: a signature for project `Z\nB` then also verified for
// project B with one more method (see DEVIATIONS in doc.go). paths and
// methods must be canonical (sorted, no repeats): callers pass them so.
func signature(key string, paths, methods []string, project, expires string) string {
	b := appendString(nil, signedTextTag)
	b = appendList(b, paths)
	b = appendList(b, methods)
	b = appendString(b, project)
	b = appendString(b, expires)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(b)
	return hex.EncodeToString(mac.Sum(nil))
}

func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendList(b []byte, l []string) []byte {
	b = strconv.AppendInt(b, int64(len(l)), 10)
	b = append(b, '#')
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// share issues a pre-signed URL for the queue (POST .../share).
func (h *handler) share(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	m := map[string]json.RawMessage{}
	if b != nil {
		if m, err = decodeObject(b, "Document type not supported."); err != nil {
			return err
		}
	}
	for k := range m {
		if k != "paths" && k != "methods" && k != "expires" {
			return invalid("Invalid key " + strconv.Quote(k) + " in the body.")
		}
	}
	if h.o.SignedURLKey == "" {
		return invalid("Pre-signed URLs are not enabled on this server: it has no signing key.")
	}
	paths, methods := []string{"messages"}, []string{"GET"}
	if raw, ok := m["paths"]; ok {
		if json.Unmarshal(raw, &paths) != nil || len(paths) == 0 {
			return invalid("paths must be a non-empty list of strings.")
		}
	}
	for i, p := range paths {
		if !slices.Contains(signedPaths, p) {
			return invalid("Invalid path " + strconv.Quote(p) + ": only messages, subscriptions and claims may be shared.")
		}
		paths[i] = queuePath(rq.queue) + "/" + p
	}
	if raw, ok := m["methods"]; ok {
		if json.Unmarshal(raw, &methods) != nil || len(methods) == 0 {
			return invalid("methods must be a non-empty list of strings.")
		}
	}
	for _, meth := range methods {
		if !slices.Contains(signedMethods, meth) {
			return invalid("Invalid method " + strconv.Quote(meth) + ": want one of " + strings.Join(signedMethods, ", ") + ".")
		}
	}
	expires := rq.now.UTC().Add(24 * time.Hour)
	if raw, ok := m["expires"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return invalid("expires must be a time.")
		}
		// Whole seconds are signed: a time in this second would make a
		// URL that is already expired.
		if expires, err = parseExpires(s); err != nil || !expires.Truncate(time.Second).After(rq.now) {
			return invalid("Invalid expires value " + strconv.Quote(s) + ": it must be a future time, in a later second.")
		}
	}
	exp := expires.UTC().Format(expiresFormat)
	paths, methods = canonical(paths), canonical(methods)
	return writeJSON(w, http.StatusOK, map[string]any{
		"paths": paths, "methods": methods, "project": rq.project.ID(), "expires": exp,
		"signature": signature(h.o.SignedURLKey, paths, methods, rq.project.ID(), exp),
	})
}

// canonical sorts l and drops repeats: the one form of a list that is
// signed.
func canonical(l []string) []string {
	slices.Sort(l)
	return slices.Compact(l)
}

// parseExpires reads an ISO 8601 time; without a zone it is UTC.
func parseExpires(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", expiresFormat} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}

// verifySigned checks a request's pre-signed URL headers (§6). Every
// failure is 404, as in Zaqar. The headers must be exactly as share
// issued them: one line each; URL-Expires in expiresFormat and in the
// future; URL-Methods known methods, URL-Paths the shareable paths of one
// queue, each list sorted, without repeats or spaces. A path authorises
// itself and what lies under it (herald matches prefixes at a '/'
// boundary, not Zaqar's regex search), on the queue it names only.
func (h *handler) verifySigned(r *http.Request) error {
	fail := notFound("The pre-signed URL is not valid for this request.")
	if h.o.SignedURLKey == "" {
		return fail
	}
	var hv [5]string
	for i, k := range []string{"URL-Signature", "URL-Expires", "URL-Methods", "URL-Paths", "X-Project-Id"} {
		vs := r.Header.Values(k)
		if len(vs) != 1 {
			return fail
		}
		hv[i] = vs[0]
	}
	sig, expires, project := hv[0], hv[1], hv[4]
	t, err := time.Parse(expiresFormat, expires)
	if err != nil || t.Format(expiresFormat) != expires || !t.After(h.o.Now()) {
		return fail
	}
	methods, ok := canonicalHeader(hv[2], func(m string) bool { return slices.Contains(signedMethods, m) })
	if !ok {
		return fail
	}
	queue := ""
	paths, ok := canonicalHeader(hv[3], func(p string) bool {
		name, sub, ok := strings.Cut(strings.TrimPrefix(p, "/v2/queues/"), "/")
		if !ok || !strings.HasPrefix(p, "/v2/queues/") || store.CheckQueueName(name) != nil ||
			!slices.Contains(signedPaths, sub) || (queue != "" && name != queue) {
			return false
		}
		queue = name
		return true
	})
	if !ok {
		return fail
	}
	want := signature(h.o.SignedURLKey, paths, methods, project, expires)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fail
	}
	allowed := slices.Contains(methods, r.Method) ||
		r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet) // HEAD is GET without a body
	if !allowed || r.PathValue("queue") != queue {
		return fail
	}
	if !slices.ContainsFunc(paths, func(p string) bool {
		return r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/")
	}) {
		return fail
	}
	return nil
}

// canonicalHeader splits a comma list as share writes it, and reports
// whether it is canonical (sorted, no repeats, none empty) and each item
// passes valid.
func canonicalHeader(v string, valid func(string) bool) ([]string, bool) {
	l := strings.Split(v, ",")
	for i, s := range l {
		if !valid(s) || (i > 0 && l[i-1] >= s) {
			return nil, false
		}
	}
	return l, true
}
