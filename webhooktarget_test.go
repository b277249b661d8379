package herald_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// privateLiterals are webhook URLs whose host is an address that is not
// public, in the forms the HTTP client would dial: literals, IPv6 forms
// that embed or tunnel to IPv4, what inet_aton (the cgo resolver) reads,
// and what net/http's IDNA mapping turns into an address.
var privateLiterals = []string{
	"http://127.0.0.1/", "https://127.0.0.1:8443/x", "HTTP://127.0.0.1/", "http://user:pw@127.0.0.1/",
	"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://172.16.0.1/",
	"http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://0/", "http://224.0.0.1/",
	"http://[::1]/", "http://[::]/", "http://[fe80::1%25eth0]/", "http://[fc00::1]/",
	"http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:169.254.169.254]:80/",
	"http://[::127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:7f00:1::]/",
	"http://2130706433/", "http://0x7f000001/", "http://0x7f.1/", "http://0177.0.0.1/",
	"http://017700000001/", "http://127.1/", "http://127.0.1/", "http://0xa9.0xfe.0xa9.0xfe/",
	"http://127.0.0.1./", "http://１２７．０．０．１/", "http://①②⑦.0.0.1/",
}

// With DenyPrivateTargets a webhook to a literal address that is not
// public is refused when subscribing or changing the subscriber, with
// ErrDeniedTarget (an ErrInvalid), and nothing changes. Names are left to
// the dial (TestDenyPrivateTargets).
func TestDenyPrivateTargetsAtSubscribe(t *testing.T) {
	ctx := t.Context()
	svc := notifyService(t, herald.NotifyOptions{DenyPrivateTargets: true})
	requireSubscriber(t, svc)
	q := svc.Queue("events")
	for _, u := range privateLiterals {
		_, _, err := q.Subscribe(ctx, u, herald.SubscribeOptions{})
		require.ErrorIs(t, err, herald.ErrDeniedTarget, u)
		require.ErrorIs(t, err, herald.ErrInvalid, u)
		require.ErrorContains(t, err, "not a public address", u)
	}
	for _, u := range []string{"http://:80/", "http://[]/", "https://:443/x"} {
		_, _, err := q.Subscribe(ctx, u, herald.SubscribeOptions{})
		require.ErrorIs(t, err, herald.ErrInvalid, u) // no host: would dial this one
	}
	subs, err := q.Subscriptions(ctx, herald.ID{}, 100)
	if err != nil {
		require.ErrorIs(t, err, herald.ErrNotFound)
	}
	require.Empty(t, subs)

	for _, u := range []string{"http://localhost:1/", "http://example.com/", "http://93.184.216.34/",
		"http://[2606:2800:220:1::1]/", "http://127.0.0.1.example.com/", "http://0x7f.example/"} {
		_, created, err := q.Subscribe(ctx, u, herald.SubscribeOptions{})
		require.NoError(t, err, u)
		require.True(t, created, u)
	}
	before, err := q.Subscriptions(ctx, herald.ID{}, 100)
	require.NoError(t, err)
	for _, u := range privateLiterals {
		_, err := q.UpdateSubscription(ctx, before[0].ID, herald.SubscriptionUpdate{Subscriber: &u})
		require.ErrorIs(t, err, herald.ErrDeniedTarget, u)
	}
	after, err := q.Subscriptions(ctx, herald.ID{}, 100)
	require.NoError(t, err)
	require.Equal(t, before, after)

	// Without the option every literal is taken.
	open := notifyService(t, herald.NotifyOptions{}).Queue("events")
	for _, u := range privateLiterals {
		_, _, err := open.Subscribe(ctx, u, herald.SubscribeOptions{})
		require.NoError(t, err, u)
	}
}

// badPostHeaders are post_headers a subscription refuses: names that are
// not HTTP tokens, values with control characters, wrong types.
var badPostHeaders = []string{
	`{"X-A":"v\r\nX-Injected: 1"}`, `{"X-A":"v\n"}`, `{"X-A":"v\r"}`, `{"X-A":"a\u0000b"}`,
	`{"X-A":"a\tb"}`, `{"X-A":"a\u007fb"}`, `{"X-A\r\nX-B":"v"}`, `{"X A":"v"}`, `{"":"v"}`,
	`{"X-A:":"v"}`, `{"X-Ä":"v"}`, `{"X-A":1}`, `{"X-A":["v"]}`, `"X-A: v"`, `["X-A"]`,
}

// post_headers with CR, LF or other control characters, bad names or
// types are refused with ErrInvalidMetadata when subscribing and when
// updating, and nothing changes.
func TestPostHeadersChecked(t *testing.T) {
	ctx := t.Context()
	svc := notifyService(t, herald.NotifyOptions{})
	requireSubscriber(t, svc)
	q := svc.Queue("events")
	for _, h := range badPostHeaders {
		_, _, err := q.Subscribe(ctx, "http://example.com/", herald.SubscribeOptions{
			Options: json.RawMessage(`{"post_headers":` + h + `}`)})
		require.ErrorIs(t, err, herald.ErrInvalidMetadata, h)
		require.ErrorContains(t, err, "post_headers", h)
	}
	subs, err := q.Subscriptions(ctx, herald.ID{}, 10)
	if err != nil {
		require.ErrorIs(t, err, herald.ErrNotFound)
	}
	require.Empty(t, subs)

	good := json.RawMessage(`{"post_headers":{"X-Tenant":"acme corp","X-Utf8":"café","X-Empty":""},"secret":"s"}`)
	sub, _, err := q.Subscribe(ctx, "http://example.com/", herald.SubscribeOptions{Options: good})
	require.NoError(t, err)
	for _, h := range badPostHeaders {
		_, err := q.UpdateSubscription(ctx, sub.ID, herald.SubscriptionUpdate{
			Options: json.RawMessage(`{"post_headers":` + h + `}`)})
		require.ErrorIs(t, err, herald.ErrInvalidMetadata, h)
	}
	got, err := q.Subscription(ctx, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(good), string(got.Options))
}

// A subscription stored with bad post_headers before they were checked
// fails its deliveries for good at once (no request could carry them), and
// nothing is sent.
func TestStoredBadPostHeadersFailForGood(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	logs := make(logHook, 1000)
	svc := newService(t, func(o *herald.Options) { o.Store, o.Logger = st, slogOf(logs) })
	requireSubscriber(t, svc)
	h := newHook(nil)
	q := svc.Queue("events")
	sub, _, err := q.Subscribe(ctx, h.server(t), herald.SubscribeOptions{})
	require.NoError(t, err)
	_, err = st.UpdateSubscription(ctx, store.UpdateSubscriptionParams{Queue: sub.Queue, ID: sub.ID,
		Options: json.RawMessage(`{"post_headers":{"X-A":"v\r\nX-Injected: 1"}}`), Now: time.Now()})
	require.NoError(t, err)
	post(t, q, "m")
	requireFailedUnsent(t, logs, q, h, "control character")
}
