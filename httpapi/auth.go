package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// TokenAuth returns an Options.Auth that accepts static bearer tokens, sent
// as "Authorization: Bearer <token>" or "X-Auth-Token: <token>" (what
// OpenStack clients send). tokens maps each token to the project it acts
// for; "" lets its holder name any project with X-Project-ID. Tokens are
// compared in constant time.
func TokenAuth(tokens map[string]string) func(*http.Request) (string, error) {
	type entry struct {
		sum     [32]byte
		project string
	}
	entries := make([]entry, 0, len(tokens))
	for t, p := range tokens {
		if t != "" {
			entries = append(entries, entry{sha256.Sum256([]byte(t)), p})
		}
	}
	return func(r *http.Request) (string, error) {
		tok, err := requestToken(r)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256([]byte(tok))
		found, project := 0, ""
		for _, e := range entries {
			if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
				found, project = 1, e.project
			}
		}
		if found == 0 {
			return "", errors.New("the token is not valid")
		}
		return project, nil
	}
}

// requestToken is the request's bearer token (Authorization: Bearer, or
// X-Auth-Token).
func requestToken(r *http.Request) (string, error) {
	tok := r.Header.Get("X-Auth-Token")
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", errors.New("only bearer tokens are accepted")
		}
		tok = strings.TrimSpace(rest)
	}
	if tok == "" {
		return "", errors.New("a token is required")
	}
	return tok, nil
}

// TokenIn returns an Options.IsAdmin that admits requests carrying one of
// tokens (compared in constant time), as TokenAuth reads them.
func TokenIn(tokens ...string) func(*http.Request) bool {
	sums := make([][32]byte, 0, len(tokens))
	for _, t := range tokens {
		if t != "" {
			sums = append(sums, sha256.Sum256([]byte(t)))
		}
	}
	return func(r *http.Request) bool {
		tok, err := requestToken(r)
		if err != nil {
			return false
		}
		sum := sha256.Sum256([]byte(tok))
		found := 0
		for _, s := range sums {
			found |= subtle.ConstantTimeCompare(sum[:], s[:])
		}
		return found == 1
	}
}

// projectSlot is where the handler records the project it serves a
// request under, for TrackProject.
type projectSlot struct{ project string }

type projectSlotKey struct{}

// TrackProject returns r with a context in which the handler New returns
// records the project it serves r under, and a function that returns
// that project once ServeHTTP has returned: the one Options.Auth
// resolved (a token's own project, whatever X-Project-ID says), or the
// X-Project-ID header only where Auth lets the header decide. It is ""
// for a request refused before its project was settled (a bad token, a
// missing header) and for routes without a project (GET /). It is for
// access logs and metrics, which should name the project a request was
// served under, never one it merely claimed.
//
// Nested calls share one record: if r's context already tracks the
// project (an outer middleware called TrackProject), r is returned as it
// is, and every caller's function reports the same project.
func TrackProject(r *http.Request) (*http.Request, func() string) {
	s, ok := r.Context().Value(projectSlotKey{}).(*projectSlot)
	if !ok {
		s = &projectSlot{}
		r = r.WithContext(context.WithValue(r.Context(), projectSlotKey{}, s))
	}
	return r, func() string { return s.project }
}

// recordProject notes project in r's TrackProject slot, if it has one.
func recordProject(r *http.Request, project string) {
	if s, ok := r.Context().Value(projectSlotKey{}).(*projectSlot); ok {
		s.project = project
	}
}

// HasRole returns an Options.IsAdmin that admits requests whose X-Roles
// header lists role: a comma list (several header lines add up), each
// role trimmed of spaces and compared without regard to case, as
// oslo.context reads the header and oslo.policy matches role:admin. The
// header is the client's own word: use it only where callers are trusted
// (Zaqar's noauth mode), never to tell callers of an Auth apart.
func HasRole(role string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return hasRole(r, role) }
}

func hasRole(r *http.Request, role string) bool {
	for _, v := range r.Header.Values("X-Roles") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), role) {
				return true
			}
		}
	}
	return false
}
