package herald

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// S4: JSON bodies are embedded, text becomes a string, other bytes are
// base64 so none is altered.
func TestPayloadBodies(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":1}`:      `{"a":1}`,
		"plain text":   `"plain text"`,
		"\xff\x00\x01": `"/wAB"`,
	} {
		raw, err := payload(store.Delivery{Body: []byte(body), TTL: time.Minute, Queue: store.QueueRef{Name: "q"}})
		require.NoError(t, err)
		var n map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &n))
		require.JSONEq(t, want, string(n["body"]), body)
		_, encoded := n["body_encoding"]
		require.Equal(t, body == "\xff\x00\x01", encoded)
	}
}

// mailto: addresses are percent-decoded and lose a display name.
func TestMailAddress(t *testing.T) {
	for uri, want := range map[string]string{
		"mailto:ops@example.com":             "ops@example.com",
		"mailto:a%2Bb@example.com":           "a+b@example.com",
		"mailto:Bob%20%3Cbob@example.com%3E": "bob@example.com",
	} {
		got, _, err := mailAddress(uri)
		require.NoError(t, err, uri)
		require.Equal(t, want, got)
	}
	_, _, err := mailAddress("mailto:not an address")
	require.Error(t, err)
}
