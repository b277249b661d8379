package herald

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldmq/herald/internal/netguard"
	"github.com/heraldmq/herald/store"
)

// SignatureHeader carries a webhook's signature when its subscription has a
// "secret" option (S4): "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" keyed by the secret>". Check it with VerifySignature.
const SignatureHeader = "X-Herald-Signature"

// notification is the webhook body: Zaqar's payload plus the message id.
type notification struct {
	Body        json.RawMessage `json:"body"`
	TTL         int64           `json:"ttl"`
	QueueName   string          `json:"queue_name"`
	MessageType string          `json:"Message_Type"`
	MessageID   string          `json:"message_id"`
	// BodyEncoding is "base64" for a body that is not UTF-8 text.
	BodyEncoding string `json:"body_encoding,omitempty"`
}

// payload renders a delivery as Zaqar's notification JSON. A body that is
// JSON is embedded as it is, other UTF-8 text becomes a JSON string, and
// anything else a base64 string with "body_encoding": "base64", so no
// byte is altered on the way.
func payload(d store.Delivery) ([]byte, error) {
	n := notification{
		Body: json.RawMessage(d.Body), TTL: int64(d.TTL / time.Second), QueueName: d.Queue.Name,
		MessageType: "Notification", MessageID: d.Message.String(),
	}
	if !json.Valid(d.Body) {
		text := string(d.Body)
		if !utf8.Valid(d.Body) {
			text, n.BodyEncoding = base64.StdEncoding.EncodeToString(d.Body), "base64"
		}
		s, err := json.Marshal(text)
		if err != nil {
			return nil, err
		}
		n.Body = s
	}
	return json.Marshal(n)
}

// subOptions are the subscription options delivery reads.
type subOptions struct {
	Secret      string            `json:"secret"`
	PostHeaders map[string]string `json:"post_headers"`
	Subject     string            `json:"subject"`
}

func optionsOf(sub Subscription) subOptions {
	var o subOptions
	_ = json.Unmarshal(sub.Options, &o) // checked when stored; bad keys count as unset
	return o
}

// send makes one attempt to deliver d to sub's subscriber.
func (n *notifier) send(ctx context.Context, sub Subscription, d store.Delivery) error {
	body, err := payload(d)
	if err != nil {
		return &permanentError{err}
	}
	return n.sendRaw(ctx, sub, d, body)
}

// sendRaw sends body to sub's subscriber.
func (n *notifier) sendRaw(ctx context.Context, sub Subscription, d store.Delivery, body []byte) error {
	if strings.HasPrefix(sub.Subscriber, "mailto:") {
		return n.mail(ctx, sub, d, body)
	}
	return n.post(ctx, sub, body)
}

// post sends a webhook. 2xx delivers; network errors, 5xx, 408 and 429
// are worth a retry; any other answer is permanent (S3).
func (n *notifier) post(ctx context.Context, sub Subscription, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Subscriber, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	o := optionsOf(sub)
	if err := netguard.CheckPostHeaders(o.PostHeaders); err != nil {
		return &permanentError{err} // stored before they were checked: no retry can send them
	}
	for k, v := range o.PostHeaders {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(o.Secret, n.s.now(), body))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		if errors.Is(err, ErrDeniedTarget) {
			return &permanentError{err}
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return &permanentError{fmt.Errorf("webhook answered %s", resp.Status)}
	}
}

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a SignatureHeader value against body and secret
// (in constant time), and that it was made within maxAge of now, either
// way (replay protection; the timestamp has whole seconds, so use a
// maxAge of a few minutes). A receiver calls it with the raw request
// body. Errors match ErrInvalid.
func VerifySignature(secret, header string, body []byte, now time.Time, maxAge time.Duration) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return store.Errorf(ErrInvalid, "signature %q: malformed", header)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return store.Errorf(ErrInvalid, "signature: does not match")
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return store.Errorf(ErrInvalid, "signature: made %v from now, over %v", age, maxAge)
	}
	return nil
}
