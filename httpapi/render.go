package httpapi

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/heraldmq/herald"
)

// homeDoc is the JSON-Home document of GET /v2/, as Zaqar serves it.
//
//go:embed homedoc.json
var homeDoc []byte

// versionsDoc is the answer to GET / (zaqar-v2 §1.1).
var versionsDoc = []byte(`{"versions": [{"id": "2", "status": "CURRENT", "updated": "2014-9-24T04:06:47Z", "media-types": [{"base": "application/json", "type": "application/vnd.openstack.messaging-v2+json"}], "links": [{"href": "/v2/", "rel": "self"}]}]}`)

// requestID returns a fresh X-Openstack-Request-Id value.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" +
		hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}

// message is a message as Zaqar's HTTP API shows it (zaqar-v2 §4.10).
type message struct {
	ID   string          `json:"id"`
	Href string          `json:"href"`
	TTL  int64           `json:"ttl"`
	Age  int64           `json:"age"`
	Body json.RawMessage `json:"body"`
}

// poppedMessage is the storage-format message a pop returns (§4.6).
type poppedMessage struct {
	ID         string          `json:"id"`
	Age        int64           `json:"age"`
	TTL        int64           `json:"ttl"`
	Body       json.RawMessage `json:"body"`
	ClaimID    *string         `json:"claim_id"`
	ClaimCount int             `json:"claim_count"`
}

func queuePath(q *herald.Queue) string { return "/v2/queues/" + q.Name() }

func messagePath(q *herald.Queue, id herald.ID) string {
	return queuePath(q) + "/messages/" + id.String()
}

// bodyJSON returns a stored body as JSON: as it is when it is JSON (every
// body posted over HTTP is), else as a JSON string of its text, so that a
// body posted through the Go API never breaks a listing.
func bodyJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// wholeSeconds rounds d to whole seconds, at least 0.
func wholeSeconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64((d + time.Second/2) / time.Second)
}

// age is seconds since t, floored as Zaqar does.
func age(now, t time.Time) int64 {
	if d := now.Sub(t); d > 0 {
		return int64(d / time.Second)
	}
	return 0
}

func renderMessage(q *herald.Queue, m herald.Message, now time.Time) message {
	href := messagePath(q, m.ID)
	if !m.ClaimID.IsZero() {
		href += "?claim_id=" + m.ClaimID.String()
	}
	return message{
		ID: m.ID.String(), Href: href, TTL: wholeSeconds(m.Expires.Sub(m.Created)),
		Age: age(now, m.Created), Body: bodyJSON(m.Body),
	}
}

func renderMessages(q *herald.Queue, ms []herald.Message, now time.Time) []message {
	out := make([]message, len(ms))
	for i, m := range ms {
		out[i] = renderMessage(q, m, now)
	}
	return out
}

// link is an entry of a listing's "links".
type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}
