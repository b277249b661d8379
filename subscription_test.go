package herald_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// hook is a webhook receiver: every request lands on got; answer picks
// the status of the n-th request (1-based).
type hook struct {
	got    chan hookCall
	answer func(n int) int
	mu     sync.Mutex
	n      int
}

type hookCall struct {
	n      int
	header http.Header
	body   []byte
}

func newHook(answer func(n int) int) *hook {
	return &hook{got: make(chan hookCall, 1000), answer: answer}
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	status := http.StatusOK
	if h.answer != nil {
		status = h.answer(n)
	}
	w.WriteHeader(status)
	h.got <- hookCall{n: n, header: r.Header.Clone(), body: body}
}

// next waits for the next request; the timeout only bounds a broken run.
func (h *hook) next(t *testing.T) hookCall {
	t.Helper()
	select {
	case c := <-h.got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request arrived")
		return hookCall{}
	}
}

// server starts h on loopback for the test's lifetime.
func (h *hook) server(t *testing.T) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// requireFailedUnsent waits for q's one delivery to fail for good with
// why in its last error, and checks that no request reached h.
func requireFailedUnsent(t *testing.T, logs logHook, q *herald.Queue, h *hook, why string) {
	t.Helper()
	logs.await(t, "delivery failed for good")
	failed, err := q.FailedDeliveries(t.Context(), herald.ID{}, herald.ID{}, 10)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Contains(t, failed[0].LastError, why)
	select {
	case c := <-h.got:
		t.Fatalf("a request was sent: %v", c)
	default:
	}
}

// roundTrip is an in-process http.RoundTripper for tests under synctest,
// where real sockets would not let fake time advance.
type roundTrip func(r *http.Request) (int, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	status, err := f(r)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func notifyService(t *testing.T, o herald.NotifyOptions, log ...*slog.Logger) *herald.Service {
	return newService(t, func(opts *herald.Options) {
		opts.Notify = o
		if len(log) > 0 {
			opts.Logger = log[0]
		}
	})
}

// logHook is a slog handler that hands every record's message to a
// channel: tests wait on what the Service logs instead of polling.
type logHook chan string

func (h logHook) Enabled(context.Context, slog.Level) bool { return true }
func (h logHook) Handle(_ context.Context, r slog.Record) error {
	select { // never block the Service: a full hook drops
	case h <- r.Message:
	default:
	}
	return nil
}
func (h logHook) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHook) WithGroup(string) slog.Handler      { return h }

// await waits until the Service logs msg.
func (h logHook) await(t *testing.T, msg string) {
	t.Helper()
	for {
		select {
		case m := <-h:
			if strings.Contains(m, msg) {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("never logged %q", msg)
		}
	}
}

func requireSubscriber(t *testing.T, svc *herald.Service) {
	t.Helper()
	_, _, err := svc.Queue("probe").Subscribe(context.Background(), "http://example.com:1/", herald.SubscribeOptions{})
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("the memory store does not implement store.Subscriber yet")
	}
	require.NoError(t, err)
	require.NoError(t, svc.Queue("probe").DeleteQueue(context.Background()))
}

// S1: subscriptions as data — create, duplicate, get, list, update,
// conflict, delete — and bad input that changes nothing.
func TestSubscriptionsAsData(t *testing.T) {
	svc := newService(t)
	requireSubscriber(t, svc)
	ctx := t.Context()
	q := svc.Queue("events")
	a, created, err := q.Subscribe(ctx, "http://example.com/a", herald.SubscribeOptions{Options: json.RawMessage(`{"secret":"s"}`)})
	require.NoError(t, err)
	require.True(t, created)
	again, created, err := q.Subscribe(ctx, "http://example.com/a", herald.SubscribeOptions{})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, a.ID, again.ID)
	require.Equal(t, time.Hour, a.TTL)
	b, _, err := q.Subscribe(ctx, "mailto:ops@example.com", herald.SubscribeOptions{TTL: time.Minute})
	require.NoError(t, err)

	list, err := q.Subscriptions(ctx, herald.ID{}, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	page, err := q.Subscriptions(ctx, list[0].ID, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)

	taken := "http://example.com/a"
	_, err = q.UpdateSubscription(ctx, b.ID, herald.SubscriptionUpdate{Subscriber: &taken})
	require.ErrorIs(t, err, herald.ErrConflict)
	ttl := 2 * time.Hour
	got, err := q.UpdateSubscription(ctx, b.ID, herald.SubscriptionUpdate{TTL: &ttl})
	require.NoError(t, err)
	require.Equal(t, ttl, got.TTL)

	for _, c := range []struct {
		subscriber string
		o          herald.SubscribeOptions
		want       error
	}{
		{"ftp://example.com/", herald.SubscribeOptions{}, herald.ErrInvalid},
		{"http:///nohost", herald.SubscribeOptions{}, herald.ErrInvalid},
		{"mailto:not an address", herald.SubscribeOptions{}, herald.ErrInvalid},
		{"http://example.com/" + strings.Repeat("x", 1100), herald.SubscribeOptions{}, herald.ErrInvalid},
		{"http://example.com/b", herald.SubscribeOptions{TTL: -time.Second}, herald.ErrInvalidTTL},
		{"http://example.com/b", herald.SubscribeOptions{TTL: 400 * 24 * time.Hour}, herald.ErrInvalidTTL},
		{"http://example.com/b", herald.SubscribeOptions{Options: json.RawMessage(`[1]`)}, herald.ErrInvalidMetadata},
		{"http://example.com/b", herald.SubscribeOptions{Options: json.RawMessage(`{"_retry_policy":{"retry_backoff_function":"cubic"}}`)}, herald.ErrInvalidMetadata},
		{"http://example.com/b", herald.SubscribeOptions{Options: json.RawMessage(`{"x":"` + strings.Repeat("y", 70<<10) + `"}`)}, herald.ErrTooLarge},
	} {
		_, _, err := q.Subscribe(ctx, c.subscriber, c.o)
		require.ErrorIs(t, err, c.want, c.subscriber)
		require.ErrorIs(t, err, herald.ErrInvalid)
	}
	list, err = q.Subscriptions(ctx, herald.ID{}, 10)
	require.NoError(t, err)
	require.Len(t, list, 2, "bad input added nothing")

	require.NoError(t, q.Unsubscribe(ctx, a.ID))
	require.NoError(t, q.Unsubscribe(ctx, a.ID), "deleting twice is fine")
	_, err = q.Subscription(ctx, a.ID)
	require.ErrorIs(t, err, herald.ErrNotFound)
	require.NoError(t, q.DeleteQueue(ctx))
	_, err = q.Subscription(ctx, b.ID)
	require.ErrorIs(t, err, herald.ErrNotFound, "removed with their queue")
}

// S1: a subscription expires after its TTL.
func TestSubscriptionExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		requireSubscriber(t, svc)
		q := svc.Queue("events")
		sub, _, err := q.Subscribe(t.Context(), "http://example.com/a", herald.SubscribeOptions{TTL: time.Minute})
		require.NoError(t, err)
		time.Sleep(time.Minute - time.Nanosecond)
		_, err = q.Subscription(t.Context(), sub.ID)
		require.NoError(t, err)
		time.Sleep(time.Nanosecond)
		_, err = q.Subscription(t.Context(), sub.ID)
		require.ErrorIs(t, err, herald.ErrNotFound)
	})
}

// S2, S4: every posted message reaches the webhook once, as Zaqar's
// notification JSON plus the message id, signed when the subscription has
// a secret.
func TestWebhookDelivery(t *testing.T) {
	svc := newService(t)
	requireSubscriber(t, svc)
	ctx := t.Context()
	h := newHook(nil)
	q := svc.Queue("events")
	_, _, err := q.Subscribe(ctx, h.server(t)+"/in", herald.SubscribeOptions{
		Options: json.RawMessage(`{"secret":"k3y","post_headers":{"X-Tenant":"acme"}}`),
	})
	require.NoError(t, err)
	ids, err := q.Post(ctx, herald.Draft{Body: []byte(`{"event":"created"}`), TTL: time.Minute}, herald.Draft{Body: []byte("plain text")})
	require.NoError(t, err)

	seen := map[string]map[string]any{}
	for range 2 {
		c := h.next(t)
		require.Equal(t, "application/json", c.header.Get("Content-Type"))
		require.Equal(t, "acme", c.header.Get("X-Tenant"))
		require.NoError(t, herald.VerifySignature("k3y", c.header.Get(herald.SignatureHeader), c.body, time.Now(), time.Minute))
		require.Error(t, herald.VerifySignature("wrong", c.header.Get(herald.SignatureHeader), c.body, time.Now(), time.Minute))
		var n map[string]any
		require.NoError(t, json.Unmarshal(c.body, &n))
		seen[n["message_id"].(string)] = n
	}
	first := seen[ids[0].String()]
	require.Equal(t, map[string]any{"event": "created"}, first["body"])
	require.Equal(t, float64(60), first["ttl"])
	require.Equal(t, "events", first["queue_name"])
	require.Equal(t, "Notification", first["Message_Type"])
	require.Equal(t, "plain text", seen[ids[1].String()]["body"])
	select {
	case c := <-h.got:
		t.Fatalf("a third request: %s", c.body)
	default:
	}
}

// S3: 5xx and 429 are retried (Zaqar's default policy starts with three
// immediate retries); a 4xx is permanent: the delivery is kept as failed,
// listed, and sent again by RetryDeliveries.
func TestWebhookRetriesAndFailures(t *testing.T) {
	logs := make(logHook, 1000)
	svc := notifyService(t, herald.NotifyOptions{}, slogOf(logs))
	requireSubscriber(t, svc)
	ctx := t.Context()
	flaky := newHook(func(n int) int {
		switch n {
		case 1:
			return http.StatusInternalServerError
		case 2:
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	q := svc.Queue("events")
	_, _, err := q.Subscribe(ctx, flaky.server(t), herald.SubscribeOptions{})
	require.NoError(t, err)
	post(t, q, "hello")
	for want := 1; want <= 3; want++ {
		require.Equal(t, want, flaky.next(t).n)
	}

	rejecting := true
	var mu sync.Mutex
	picky := newHook(func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if rejecting {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	q2 := svc.Queue("picky")
	sub, _, err := q2.Subscribe(ctx, picky.server(t), herald.SubscribeOptions{})
	require.NoError(t, err)
	post(t, q2, "rejected")
	picky.next(t)
	logs.await(t, "delivery failed for good")
	failed, err := q2.FailedDeliveries(ctx, sub.ID, herald.ID{}, 10)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "rejected", string(failed[0].Body))
	require.Contains(t, failed[0].LastError, "400")

	mu.Lock()
	rejecting = false
	mu.Unlock()
	n, err := q2.RetryDeliveries(ctx, failed[0].ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	failed, err = q2.FailedDeliveries(ctx, herald.ID{}, herald.ID{}, 10)
	require.NoError(t, err)
	require.Empty(t, failed, "revived")
	require.Equal(t, 2, picky.next(t).n)
}

// S3 timing under synctest: the default policy's schedule (3 immediate,
// 3 after 5 s, linear back-off 5..25 s, 3 after 30 s), then failed.
func TestDeliveryRetrySchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		svc := notifyService(t, herald.NotifyOptions{Client: &http.Client{Transport: roundTrip(func(*http.Request) (int, error) {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
			return http.StatusServiceUnavailable, nil
		})}})
		requireSubscriber(t, svc)
		q := svc.Queue("events")
		_, _, err := q.Subscribe(t.Context(), "http://hook.example/", herald.SubscribeOptions{})
		require.NoError(t, err)
		post(t, q, "x")
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		s := time.Second
		want := []time.Duration{0, 0, 0, 0, 5 * s, 10 * s, 15 * s, 20 * s, 30 * s, 45 * s, 65 * s, 90 * s, 120 * s, 150 * s, 180 * s}
		mu.Lock()
		require.Equal(t, want, at)
		mu.Unlock()
		failed, err := q.FailedDeliveries(t.Context(), herald.ID{}, herald.ID{}, 10)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		require.Equal(t, 15, failed[0].Attempts)
	})
}

// S2: a slow subscriber holds only its own slots: a fast one gets every
// message while the slow one hangs.
func TestSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	svc := notifyService(t, herald.NotifyOptions{Concurrency: 4, PerSubscriber: 2})
	requireSubscriber(t, svc)
	ctx := t.Context()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := newHook(nil)
	q := svc.Queue("events")
	for _, url := range []string{slow.URL, fast.server(t)} {
		_, _, err := q.Subscribe(ctx, url, herald.SubscribeOptions{})
		require.NoError(t, err)
	}
	// More than the dispatcher holds in memory: the slow subscriber's
	// backlog must not crowd out the fast one's.
	const n = 1500
	drafts := make([]herald.Draft, 100)
	for i := range drafts {
		drafts[i] = herald.Draft{Body: []byte("m")}
	}
	for range n / len(drafts) {
		_, err := q.Post(ctx, drafts...)
		require.NoError(t, err)
	}
	for range n {
		fast.next(t)
	}
}

// DenyPrivateTargets refuses webhooks to a name that resolves to loopback
// for good when they are dialled, before any byte is sent (a literal
// address is refused at subscribe time: TestDenyPrivateTargetsAtSubscribe).
func TestDenyPrivateTargets(t *testing.T) {
	logs := make(logHook, 1000)
	svc := notifyService(t, herald.NotifyOptions{DenyPrivateTargets: true}, slogOf(logs))
	requireSubscriber(t, svc)
	ctx := t.Context()
	h := newHook(nil)
	q := svc.Queue("events")
	_, _, err := q.Subscribe(ctx, strings.Replace(h.server(t), "127.0.0.1", "localhost", 1), herald.SubscribeOptions{})
	require.NoError(t, err)
	post(t, q, "secret")
	requireFailedUnsent(t, logs, q, h, "not a public address")
}

// S5: with RequireConfirmation a new subscription gets a confirmation
// request and no notification until it is confirmed.
func TestSubscriptionConfirmation(t *testing.T) {
	svc := notifyService(t, herald.NotifyOptions{RequireConfirmation: true})
	requireSubscriber(t, svc)
	ctx := t.Context()
	h := newHook(nil)
	q := svc.Queue("events")
	sub, _, err := q.Subscribe(ctx, h.server(t), herald.SubscribeOptions{})
	require.NoError(t, err)
	require.False(t, sub.Confirmed)
	c := h.next(t)
	var req map[string]any
	require.NoError(t, json.Unmarshal(c.body, &req))
	require.Equal(t, "SubscriptionConfirmation", req["Message_Type"])
	require.Equal(t, sub.ID.String(), req["subscription_id"])

	post(t, q, "before")
	require.NoError(t, q.ConfirmSubscription(ctx, sub.ID, true))
	post(t, q, "after")
	c = h.next(t)
	var n map[string]any
	require.NoError(t, json.Unmarshal(c.body, &n))
	require.Equal(t, "after", n["body"], "the message posted before confirmation is not delivered")
}

// In-process fan-out: independent observers each see every post, in
// order; stop ends one without touching the others.
func TestObserve(t *testing.T) {
	svc := newService(t, func(o *herald.Options) { o.Logger = slog.New(slog.DiscardHandler) })
	q := svc.Queue("events")
	a, b := make(chan string, 10), make(chan string, 10)
	obsA, err := q.Observe(func(m herald.Message) { a <- string(m.Body) })
	require.NoError(t, err)
	_, err = q.Observe(func(m herald.Message) {
		if string(m.Body) == "2" {
			panic("observer bug") // logged; the observer goes on
		}
		b <- string(m.Body)
	})
	require.NoError(t, err)
	post(t, q, "1", "2")
	post(t, q, "3")
	require.Equal(t, []string{"1", "2", "3"}, []string{<-a, <-a, <-a})
	require.Equal(t, []string{"1", "3"}, []string{<-b, <-b})
	obsA.Stop()
	post(t, q, "4")
	require.Equal(t, "4", <-b)
	require.Empty(t, a)

	_, err = q.Observe(nil)
	require.ErrorIs(t, err, herald.ErrInvalid)
	require.NoError(t, svc.Close())
	_, err = q.Observe(func(herald.Message) {})
	require.ErrorIs(t, err, herald.ErrClosed)
}

func slogOf(h logHook) *slog.Logger { return slog.New(h) }

// With pools, a subscription lives on its queue's pool and the dispatcher
// delivers from every pool.
func TestSubscriptionsAcrossPools(t *testing.T) {
	svc, err := herald.New(herald.Options{Pools: []herald.Pool{
		{Name: "catalog", Store: newMemory(), Weight: 0},
		{Name: "work", Store: newMemory(), Weight: 1},
	}})
	require.NoError(t, err)
	defer svc.Close()
	ctx := t.Context()
	h := newHook(nil)
	q := svc.Queue("events")
	sub, _, err := q.Subscribe(ctx, h.server(t), herald.SubscribeOptions{})
	require.NoError(t, err)
	pool, err := q.Pool(ctx)
	require.NoError(t, err)
	require.Equal(t, "work", pool)
	got, err := q.Subscription(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, sub.ID, got.ID)
	post(t, q, "hello")
	var n map[string]any
	require.NoError(t, json.Unmarshal(h.next(t).body, &n))
	require.Equal(t, "hello", n["body"])
	_, err = svc.Queue("nowhere").Subscription(ctx, sub.ID)
	require.ErrorIs(t, err, herald.ErrNotFound, "an unplaced queue has no subscriptions")
}

// S3: an attempt that outlives NotifyOptions.Timeout is cut off and
// retried like a network error.
func TestDeliveryTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		svc := notifyService(t, herald.NotifyOptions{Timeout: 2 * time.Second, Client: &http.Client{Transport: roundTrip(func(r *http.Request) (int, error) {
			mu.Lock()
			at = append(at, time.Since(start))
			first := len(at) == 1
			mu.Unlock()
			if first { // hangs until the attempt's deadline
				<-r.Context().Done()
				return 0, r.Context().Err()
			}
			return http.StatusOK, nil
		})}})
		requireSubscriber(t, svc)
		q := svc.Queue("events")
		_, _, err := q.Subscribe(t.Context(), "http://hook.example/", herald.SubscribeOptions{})
		require.NoError(t, err)
		post(t, q, "x")
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		require.Equal(t, []time.Duration{0, 2 * time.Second}, at, "cut off at the timeout, retried at once")
		mu.Unlock()
		failed, err := q.FailedDeliveries(t.Context(), herald.ID{}, herald.ID{}, 10)
		require.NoError(t, err)
		require.Empty(t, failed)
	})
}

// A custom webhook client cannot be combined with DenyPrivateTargets: the
// guard lives in the default client's dialer.
func TestNotifyOptionsClientAndDeny(t *testing.T) {
	st := newMemory()
	_, err := herald.New(herald.Options{Store: st, Notify: herald.NotifyOptions{Client: http.DefaultClient, DenyPrivateTargets: true}})
	require.ErrorIs(t, err, herald.ErrInvalid)
	require.NoError(t, st.Close())
}
