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
)

// expiresFormat is how pre-signed URLs write their expiry (UTC, no zone).
const expiresFormat = "2006-01-02T15:04:05"

// signature is Zaqar's pre-signed URL signature (§6): HMAC-SHA256 over the
// sorted paths, sorted methods, project and expiry, joined by the two
// characters backslash and n (Zaqar's raw string), in hex.
func signature(key string, paths, methods []string, project, expires string) string {
	paths, methods = slices.Sorted(slices.Values(paths)), slices.Sorted(slices.Values(methods))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(strings.Join(paths, ",") + `\n` + strings.Join(methods, ",") + `\n` + project + `\n` + expires))
	return hex.EncodeToString(mac.Sum(nil))
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
		if json.Unmarshal(raw, &paths) != nil {
			return invalid("paths must be a list of strings.")
		}
	}
	for i, p := range paths {
		if p != "messages" && p != "subscriptions" && p != "claims" {
			return invalid("Invalid path " + strconv.Quote(p) + ": only messages, subscriptions and claims may be shared.")
		}
		paths[i] = queuePath(rq.queue) + "/" + p
	}
	if raw, ok := m["methods"]; ok {
		if json.Unmarshal(raw, &methods) != nil {
			return invalid("methods must be a list of strings.")
		}
	}
	for _, meth := range methods {
		if meth != strings.ToUpper(meth) || meth == "" || strings.ContainsAny(meth, ",\\") {
			return invalid("Invalid method " + strconv.Quote(meth) + ".")
		}
	}
	expires := rq.now.UTC().Add(24 * time.Hour)
	if raw, ok := m["expires"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return invalid("expires must be a time.")
		}
		if expires, err = parseExpires(s); err != nil || !expires.After(rq.now) {
			return invalid("Invalid expires value " + strconv.Quote(s) + ": it must be a future time.")
		}
	}
	exp := expires.UTC().Format(expiresFormat)
	slices.Sort(paths)
	slices.Sort(methods)
	return writeJSON(w, http.StatusOK, map[string]any{
		"paths": paths, "methods": methods, "project": rq.project.ID(), "expires": exp,
		"signature": signature(h.o.SignedURLKey, paths, methods, rq.project.ID(), exp),
	})
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
// failure is 404, as in Zaqar. A path authorises itself and what lies under
// it (herald matches prefixes at a '/' boundary, not Zaqar's regex search).
func (h *handler) verifySigned(r *http.Request) error {
	fail := notFound("The pre-signed URL is not valid for this request.")
	if h.o.SignedURLKey == "" {
		return fail
	}
	expires := r.Header.Get("URL-Expires")
	t, err := parseExpires(expires)
	if err != nil || !t.After(h.o.Now()) {
		return fail
	}
	methods := strings.Split(r.Header.Get("URL-Methods"), ",")
	paths := strings.Split(r.Header.Get("URL-Paths"), ",")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if !slices.Contains(methods, method) {
		return fail
	}
	if !slices.ContainsFunc(paths, func(p string) bool {
		return p != "" && (r.URL.Path == p || strings.HasPrefix(r.URL.Path, strings.TrimSuffix(p, "/")+"/"))
	}) {
		return fail
	}
	want := signature(h.o.SignedURLKey, paths, methods, r.Header.Get("X-Project-Id"), expires)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("URL-Signature"))) {
		return fail
	}
	return nil
}
