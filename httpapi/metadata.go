package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// patchContentType is the only content type PATCH on a queue takes (§3.5).
const patchContentType = "application/openstack-messaging-v2.0-json-patch"

// reservedKeys are the metadata keys herald acts on (Q3). Replacing or
// removing one that is not stored is allowed (§3.5).
var reservedKeys = map[string]bool{
	store.KeyDefaultMessageTTL: true, store.KeyDefaultMessageDelay: true,
	store.KeyMaxPostSize: true, store.KeyMaxClaimCount: true,
	store.KeyDeadLetterQueue: true, store.KeyDeadLetterTTL: true, store.KeyFlavor: true,
}

// decodeMetadata parses a queue PUT body: a JSON object, numbers kept exact.
func decodeMetadata(b []byte) (herald.Metadata, error) {
	if len(b) == 0 {
		return herald.Metadata{}, nil
	}
	c, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	if c != '{' {
		return nil, badBody("Document type not supported.")
	}
	var m herald.Metadata
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, errUnparsable
	}
	return m, nil
}

// checkReserved applies Zaqar's ranges to the reserved keys (§3.4); herald
// checks their types and its own, wider, limits again when storing.
func (h *handler) checkReserved(m herald.Metadata) error {
	maxTTL := int64(h.lim.MaxMessageTTL / time.Second)
	ttlMsg := "The TTL can not exceed " + strconv.FormatInt(maxTTL, 10) + " seconds, and must be at least 60 seconds long."
	checks := []struct {
		key      string
		min, max int64
		msg      string
	}{
		{store.KeyDefaultMessageTTL, 60, maxTTL, ttlMsg},
		{store.KeyDeadLetterTTL, 60, maxTTL, ttlMsg},
		{store.KeyDefaultMessageDelay, 0, int64(h.lim.MaxMessageDelay / time.Second),
			"The delay of a message may not exceed " + strconv.FormatInt(int64(h.lim.MaxMessageDelay/time.Second), 10) + " seconds."},
		{store.KeyMaxPostSize, 1, int64(h.o.MaxMessagesPostSize),
			"_max_messages_post_size must be between 1 and " + strconv.Itoa(h.o.MaxMessagesPostSize) + "."},
		{store.KeyMaxClaimCount, 0, 1 << 31, "_max_claim_count must be a non-negative integer."},
	}
	for _, c := range checks {
		v, ok := m[c.key]
		if !ok || v == nil {
			continue
		}
		n, ok := wholeNumber(v)
		if !ok {
			return invalid("The value of " + c.key + " must be an integer.")
		}
		if n == 0 && c.key != store.KeyDefaultMessageDelay && c.key != store.KeyMaxClaimCount {
			continue // falsy: unset, as in Zaqar
		}
		if n < c.min || n > c.max {
			return invalid(c.msg)
		}
	}
	if v, ok := m[store.KeyDeadLetterQueue]; ok && v != nil {
		if _, isStr := v.(string); !isStr {
			return invalid("The value of _dead_letter_queue must be a queue name.")
		}
	}
	return nil
}

// withDefaults returns the metadata as GET shows it: the stored keys plus
// the reserved defaults where a value is missing or falsy (§3.4). Zaqar's
// _enable_encrypt_messages is left out: herald does not encrypt.
func (h *handler) withDefaults(m herald.Metadata) map[string]any {
	out := make(map[string]any, len(m)+6)
	for k, v := range m {
		out[k] = v
	}
	defaults := map[string]any{
		store.KeyMaxPostSize:         h.o.MaxMessagesPostSize,
		store.KeyDefaultMessageTTL:   int64(h.lim.DefaultMessageTTL / time.Second),
		store.KeyDefaultMessageDelay: 0,
		store.KeyDeadLetterQueue:     nil,
		store.KeyDeadLetterTTL:       nil,
		store.KeyMaxClaimCount:       nil,
	}
	for k, def := range defaults {
		if falsy(out[k]) {
			out[k] = def
		}
	}
	return out
}

// wholeNumber reads an integer from decoded JSON: a json.Number (request
// bodies) or a whole float64 (metadata read back from herald).
func wholeNumber(v any) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(v.String(), 10, 64)
		return n, err == nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}

func falsy(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case float64:
		return v == 0
	}
	return false
}

// patchOp is one JSON-Patch operation on queue metadata.
type patchOp struct {
	op, key string
	value   any
}

// decodePatch parses a JSON-Patch document restricted as Zaqar does (§3.5).
func decodePatch(b []byte) ([]patchOp, error) {
	if len(b) == 0 {
		return nil, badBody("Request body can not be empty")
	}
	c, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	if c != '[' {
		return nil, badBody("JSON-Patch document must be a list of operations.")
	}
	var raw []map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, badBody("Each JSON-Patch operation must be an object.")
	}
	ops := make([]patchOp, 0, len(raw))
	for _, o := range raw {
		var op, path string
		if json.Unmarshal(o["op"], &op) != nil || (op != "add" && op != "replace" && op != "remove") {
			return nil, invalid("Invalid operation: " + strconv.Quote(op) + "; op must be add, replace or remove.")
		}
		if json.Unmarshal(o["path"], &path) != nil {
			return nil, invalid("Missing or invalid path.")
		}
		seg, ok := splitPointer(path)
		if !ok || len(seg) != 2 {
			return nil, invalid("Invalid JSON pointer for this resource: '" + path + "'")
		}
		if op != "remove" && !strings.EqualFold(seg[0], "metadata") {
			return nil, invalid("Invalid JSON pointer for this resource: '" + path + "'")
		}
		p := patchOp{op: op, key: seg[1]}
		if op != "remove" {
			v, present := o["value"]
			if !present {
				return nil, invalid("Missing value in " + op + " operation.")
			}
			dv := json.NewDecoder(bytes.NewReader(v))
			dv.UseNumber()
			if err := dv.Decode(&p.value); err != nil {
				return nil, errUnparsable
			}
		}
		ops = append(ops, p)
	}
	return ops, nil
}

// splitPointer splits a JSON pointer into unescaped segments, refusing empty
// segments and bad ~ escapes.
func splitPointer(p string) ([]string, bool) {
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		if s == "" {
			return nil, false
		}
		var b strings.Builder
		for j := 0; j < len(s); j++ {
			if s[j] != '~' {
				b.WriteByte(s[j])
				continue
			}
			if j+1 == len(s) || (s[j+1] != '0' && s[j+1] != '1') {
				return nil, false
			}
			b.WriteByte("~/"[s[j+1]-'0'])
			j++
		}
		parts[i] = b.String()
	}
	return parts, true
}

// applyPatch applies ops to m in order; replacing or removing a missing key
// that is not reserved answers 409.
func applyPatch(m herald.Metadata, ops []patchOp) error {
	for _, o := range ops {
		_, exists := m[o.key]
		switch o.op {
		case "add":
			m[o.key] = o.value
		case "replace":
			if !exists && !reservedKeys[o.key] {
				return conflict("Can't replace non-existent object " + o.key + ".")
			}
			m[o.key] = o.value
		case "remove":
			if !exists && !reservedKeys[o.key] {
				return conflict("Can't remove non-existent object " + o.key + ".")
			}
			delete(m, o.key)
		}
	}
	return nil
}
