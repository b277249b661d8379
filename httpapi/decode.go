package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// readBody reads a request body of at most limit bytes. A declared
// Content-Length over the limit is refused before reading anything, and a
// body without one is cut off by http.MaxBytesReader, so an oversized body is
// never read whole. An absent or empty body returns nil.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, error) {
	if r.ContentLength > int64(limit) {
		return nil, tooLarge(limit)
	}
	if r.Body == nil || r.ContentLength == 0 {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, tooLarge(limit)
		}
		return nil, badRequest("Invalid request body", "Request body could not be read.")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return b, nil
}

// parseJSON checks that b is a JSON document Zaqar would parse: valid, UTF-8,
// an object or an array at the top. It returns the first byte ('{' or '[').
func parseJSON(b []byte) (byte, error) {
	if !utf8.Valid(b) || !json.Valid(b) {
		return 0, errUnparsable
	}
	c := bytes.TrimLeft(b, " \t\r\n")[0]
	if c != '{' && c != '[' {
		return 0, errUnparsable
	}
	return c, nil
}

// decodeObject parses b as a JSON object into its fields, keeping each value
// raw. A non-object answers 400 with notObject as the description.
func decodeObject(b []byte, notObject string) (map[string]json.RawMessage, error) {
	c, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	if c != '{' {
		return nil, badBody(notObject)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errUnparsable
	}
	return m, nil
}

// jsonInt reads a JSON integer field: absent or null gives ok false; a
// float, string or other type, or one beyond 64 bits, answers 400.
func jsonInt(m map[string]json.RawMessage, key string) (n int64, ok bool, err error) {
	raw, present := m[key]
	if !present || string(raw) == "null" {
		return 0, false, nil
	}
	s := string(raw)
	if strings.ContainsAny(s, ".eE\"") || len(s) == 0 || s[0] == '[' || s[0] == '{' || s == "true" || s == "false" {
		return 0, false, badBody(`The value of the "` + key + `" field must be a int.`)
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, false, badBody("JSON contains integer that is too large.")
	}
	return n, true, nil
}

// seconds turns whole seconds into a duration, saturating instead of
// overflowing (range checks then reject it).
func seconds(n int64) int64 {
	const max = math.MaxInt64 / int64(time.Second)
	if n > max {
		return max
	}
	if n < -max {
		return -max
	}
	return n
}

// query reads Falcon-style query parameters: blank values are dropped.
type query struct{ v url.Values }

func newQuery(r *http.Request) query {
	v := r.URL.Query()
	for k, vs := range v {
		kept := vs[:0]
		for _, s := range vs {
			if s != "" {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			delete(v, k)
		} else {
			v[k] = kept
		}
	}
	return query{v}
}

func (q query) has(key string) bool { return q.v.Has(key) }

func (q query) str(key string) string { return q.v.Get(key) }

// list reads a comma-separated parameter (repeated parameters add up).
func (q query) list(key string) []string {
	var out []string
	for _, s := range q.v[key] {
		for part := range strings.SplitSeq(s, ",") {
			if part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// boolean reads a flag the way Falcon does; anything else answers 400.
func (q query) boolean(key string) (bool, error) {
	if !q.has(key) {
		return false, nil
	}
	switch q.str(key) {
	case "true", "True", "t", "yes", "y", "1", "on":
		return true, nil
	case "false", "False", "f", "no", "n", "0", "off":
		return false, nil
	}
	return false, badRequest("Invalid parameter", `The "`+key+`" parameter is invalid. The value of the parameter must be a boolean.`)
}

// limit reads an integer parameter in 1..max, def when absent.
func (q query) limit(key string, def, max int) (int, error) {
	if !q.has(key) {
		return def, nil
	}
	n, err := strconv.Atoi(q.str(key))
	if err != nil {
		return 0, badRequest("Invalid parameter", `The "`+key+`" parameter is invalid. The value must be an integer.`)
	}
	if n < 1 || n > max {
		return 0, invalid("Limit must be at least 1 and may not be greater than " + strconv.Itoa(max) + ".")
	}
	return n, nil
}

// jsonUnmarshal decodes raw JSON into v.
func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

// readObject reads a small body that must be a JSON object: an empty one
// is errEmptyBody, anything else Zaqar's "Document type not supported.".
func (h *handler) readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errEmptyBody
	}
	return decodeObject(b, "Document type not supported.")
}
