package httpapi

import (
	"strconv"
	"strings"
)

// clientID checks the Client-ID header as Zaqar does (zaqar-v2 §1.2): it is
// required; by default it must be a UUID in any form Python's uuid.UUID
// accepts, and is returned in the canonical lower-case hyphenated form so
// that the echo rule sees one client whatever its spelling. With
// Options.LaxClientID any value of 10 to 36 bytes is taken as is.
func (h *handler) clientID(values []string) (string, error) {
	if len(values) == 0 || values[0] == "" {
		return "", badRequest("Missing header value", `The "Client-ID" header is required.`)
	}
	v := values[0]
	if h.o.LaxClientID {
		if len(v) < 10 || len(v) > 36 {
			return "", badRequest("Invalid header value", "Client ID must be between 10 and 36 characters long.")
		}
		return v, nil
	}
	id, ok := canonicalUUID(v)
	if !ok {
		return "", badRequest("Wrong UUID value", "Malformed hexadecimal UUID.")
	}
	return id, nil
}

// canonicalUUID parses a UUID as Python's uuid.UUID(hex) does: "urn:" and
// "uuid:" removed, braces stripped, hyphens dropped, then 32 hex digits.
func canonicalUUID(s string) (string, bool) {
	s = strings.ReplaceAll(s, "urn:", "")
	s = strings.ReplaceAll(s, "uuid:", "")
	s = strings.Trim(s, "{}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return "", false
	}
	for i := 0; i < 32; i += 8 {
		if _, err := strconv.ParseUint(s[i:i+8], 16, 32); err != nil || strings.ContainsAny(s[i:i+8], "+_") {
			return "", false
		}
	}
	s = strings.ToLower(s)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], true
}
