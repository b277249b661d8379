package herald

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/heraldmq/herald/internal/netguard"
	"github.com/heraldmq/herald/store"
)

// Subscription ties a subscriber to a queue (S1): every message posted to
// the queue is delivered to it at least once (S2). It is an alias of
// store.Subscription; its fields:
//
//	ID         ID
//	Queue      store.QueueRef  // project and queue name
//	Subscriber string          // http(s):// webhook URL or mailto: address
//	TTL        time.Duration   // lifetime from Created (default 1 h)
//	Options    json.RawMessage // a JSON object: post_headers, secret, _retry_policy, …
//	Confirmed  bool            // false: nothing is delivered yet (S5)
//	Created    time.Time
//	Expires    time.Time
type Subscription = store.Subscription

// Delivery is one message on its way to one subscription (an alias of
// store.Delivery); Queue.FailedDeliveries lists the ones that gave up.
// Its fields:
//
//	ID           ID
//	Subscription ID
//	Subscriber   string
//	Queue        store.QueueRef
//	Message      ID            // the posted message; Body and TTL are copied from it
//	Body         []byte
//	TTL          time.Duration
//	Attempts     int           // attempts that did not deliver
//	NextAttempt  time.Time     // when it is due, or when it was last tried if Failed
//	Failed       bool          // the retry policy gave up (S3)
//	LastError    string        // why the last attempt did not deliver
//	Created      time.Time
type Delivery = store.Delivery

// SubscribeOptions shape a new subscription.
type SubscribeOptions struct {
	// TTL is how long the subscription lives; zero means
	// Limits.DefaultSubscriptionTTL (1 hour).
	TTL time.Duration
	// Options is a JSON object stored with the subscription. Keys herald
	// reads: "_retry_policy" (S3, Zaqar's retry policy; see RetryPolicy),
	// "secret" (webhooks: sign each request, see SignatureHeader),
	// "post_headers" (webhooks: extra request headers, an object of
	// strings; names must be HTTP tokens and values free of control
	// characters such as CR and LF, else ErrInvalidMetadata), "subject"
	// (mailto).
	Options json.RawMessage
}

// SubscriptionUpdate changes a subscription; nil fields stay as they are.
type SubscriptionUpdate struct {
	Subscriber *string
	TTL        *time.Duration
	Options    json.RawMessage
}

// subscriberStore admits a call and returns the queue's store as a
// store.Subscriber. On success the caller must defer q.s.gate.Leave().
func (q *Queue) subscriberStore(ctx context.Context) (store.Subscriber, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := asSubscriber(st)
	if err != nil {
		q.s.gate.Leave()
	}
	return sub, err
}

func asSubscriber(st store.Store) (store.Subscriber, error) {
	sub, ok := st.(store.Subscriber)
	if !ok {
		return nil, store.Errorf(errors.ErrUnsupported, "store %T does not implement subscriptions", st)
	}
	return sub, nil
}

// Subscribe subscribes a subscriber to the queue and reports true, or
// returns the live subscription the subscriber already has, unchanged, and
// reports false (S1). The queue is created if missing. With
// NotifyOptions.RequireConfirmation the subscription starts unconfirmed and
// nothing is delivered to it until it is confirmed (S5).
func (q *Queue) Subscribe(ctx context.Context, subscriber string, o SubscribeOptions) (Subscription, bool, error) {
	if err := q.s.gate.Enter(); err != nil {
		return Subscription{}, false, err
	}
	defer q.s.gate.Leave()
	if err := q.ref.Check(); err != nil {
		return Subscription{}, false, err
	}
	if o.TTL == 0 {
		o.TTL = q.s.limits.DefaultSubscriptionTTL
	}
	if err := q.s.checkSubscription(subscriber, o.TTL, o.Options); err != nil {
		return Subscription{}, false, err
	}
	e, _, err := q.s.holdCached(ctx, q.ref, placement{}, &q.at) // it may create the queue
	if err != nil {
		return Subscription{}, false, err
	}
	defer q.s.unhold(e)
	st, err := asSubscriber(e.pool.store)
	if err != nil {
		return Subscription{}, false, err
	}
	sub, created, err := st.CreateSubscription(ctx, store.CreateSubscriptionParams{
		Queue: q.ref, Subscriber: subscriber, TTL: o.TTL, Options: o.Options,
		Confirmed: !q.s.notify.o.RequireConfirmation, Quota: q.s.limits.quota(), Now: q.s.now(),
	})
	if err == nil {
		q.s.notify.subscribed()
		if !sub.Confirmed {
			q.s.notify.requestConfirmation(sub)
		}
	}
	return sub, created, err
}

// Subscription returns a live subscription of the queue, or ErrNotFound.
func (q *Queue) Subscription(ctx context.Context, id ID) (Subscription, error) {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return Subscription{}, err
	}
	defer q.s.gate.Leave()
	if err := store.CheckIDs("subscription id", id); err != nil {
		return Subscription{}, err
	}
	return st.GetSubscription(ctx, store.GetSubscriptionParams{Queue: q.ref, ID: id, Now: q.s.now()})
}

// Subscriptions lists the queue's live subscriptions in ID order, after
// marker (exclusive; zero starts at the first), up to limit (zero means
// Limits.DefaultPageSize).
func (q *Queue) Subscriptions(ctx context.Context, marker ID, limit int) ([]Subscription, error) {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if limit, err = q.s.limits.pageSize(limit); err != nil {
		return nil, err
	}
	return st.ListSubscriptions(ctx, store.ListSubscriptionsParams{Queue: q.ref, Marker: marker, Limit: limit, Now: q.s.now()})
}

// UpdateSubscription changes a subscription and returns it, or returns
// ErrNotFound. A new TTL counts from now. Changing the subscriber to one
// another subscription of the queue has gives ErrConflict.
func (q *Queue) UpdateSubscription(ctx context.Context, id ID, u SubscriptionUpdate) (Subscription, error) {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return Subscription{}, err
	}
	defer q.s.gate.Leave()
	if err := store.CheckIDs("subscription id", id); err != nil {
		return Subscription{}, err
	}
	if u.Subscriber != nil {
		if err := q.s.checkSubscriber(*u.Subscriber); err != nil {
			return Subscription{}, err
		}
	}
	if u.TTL != nil {
		if err := q.s.checkSubscriptionTTL(*u.TTL); err != nil {
			return Subscription{}, err
		}
	}
	if u.Options != nil {
		if err := q.s.checkSubscriptionOptions(u.Options); err != nil {
			return Subscription{}, err
		}
	}
	return st.UpdateSubscription(ctx, store.UpdateSubscriptionParams{
		Queue: q.ref, ID: id, Subscriber: u.Subscriber, TTL: u.TTL, Options: u.Options, Now: q.s.now(),
	})
}

// ConfirmSubscription sets whether a subscription is confirmed (S5); with
// NotifyOptions.RequireConfirmation only confirmed ones get deliveries. An
// unknown subscription gives ErrNotFound.
func (q *Queue) ConfirmSubscription(ctx context.Context, id ID, confirmed bool) error {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := store.CheckIDs("subscription id", id); err != nil {
		return err
	}
	_, err = st.UpdateSubscription(ctx, store.UpdateSubscriptionParams{Queue: q.ref, ID: id, Confirmed: &confirmed, Now: q.s.now()})
	return err
}

// Unsubscribe deletes a subscription and its pending and failed
// deliveries. Deleting a missing one is not an error.
func (q *Queue) Unsubscribe(ctx context.Context, id ID) error {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := store.CheckIDs("subscription id", id); err != nil {
		return err
	}
	return st.DeleteSubscription(ctx, store.DeleteSubscriptionParams{Queue: q.ref, ID: id})
}

// FailedDeliveries lists the queue's deliveries that exhausted their retry
// policy or failed for good (S3), in ID order after marker, those of one
// subscription if sub is not zero; limit zero means Limits.DefaultPageSize.
func (q *Queue) FailedDeliveries(ctx context.Context, sub, marker ID, limit int) ([]Delivery, error) {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if limit, err = q.s.limits.pageSize(limit); err != nil {
		return nil, err
	}
	return st.ListFailedDeliveries(ctx, store.ListFailedDeliveriesParams{Queue: q.ref, Subscription: sub, Marker: marker, Limit: limit})
}

// RetryDeliveries sends failed deliveries of the queue again, from the
// start of their retry policy, and returns how many it revived; IDs that
// are not failed deliveries of the queue are skipped.
func (q *Queue) RetryDeliveries(ctx context.Context, ids ...ID) (int, error) {
	st, err := q.subscriberStore(ctx)
	if err != nil {
		return 0, err
	}
	defer q.s.gate.Leave()
	if err := q.s.limits.checkCount(len(ids), "a retry of deliveries", "ids"); err != nil {
		return 0, err
	}
	if err := store.CheckIDs("delivery id", ids...); err != nil {
		return 0, err
	}
	n, err := st.RetryFailedDeliveries(ctx, store.RetryFailedDeliveriesParams{Queue: q.ref, IDs: ids, Now: q.s.now()})
	if err == nil && n > 0 {
		q.s.notify.kick()
	}
	return n, err
}

func (s *Service) checkSubscription(subscriber string, ttl time.Duration, options json.RawMessage) error {
	if err := s.checkSubscriber(subscriber); err != nil {
		return err
	}
	if err := s.checkSubscriptionTTL(ttl); err != nil {
		return err
	}
	return s.checkSubscriptionOptions(options)
}

func (s *Service) checkSubscriptionTTL(ttl time.Duration) error {
	if !between(ttl, 1, s.limits.MaxSubscriptionTTL) {
		return store.Errorf(ErrInvalidTTL, "subscription ttl must be more than 0 and at most %v, got %v", s.limits.MaxSubscriptionTTL, ttl)
	}
	return nil
}

// checkSubscriptionOptions checks the options are a JSON object within
// MaxMetadataSize, with a valid retry policy and valid post_headers if
// it has them.
func (s *Service) checkSubscriptionOptions(options json.RawMessage) error {
	if options == nil {
		return nil
	}
	if len(options) > s.limits.MaxMetadataSize {
		return store.Errorf(ErrTooLarge, "subscription options: %d bytes, over %d", len(options), s.limits.MaxMetadataSize)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(options, &obj); err != nil || obj == nil {
		return store.Errorf(ErrInvalidMetadata, "subscription options: want a JSON object")
	}
	if raw, ok := obj["post_headers"]; ok && string(raw) != "null" {
		var headers map[string]string
		if err := json.Unmarshal(raw, &headers); err != nil {
			return store.Errorf(ErrInvalidMetadata, "subscription options: post_headers %.60s: want an object of strings", raw)
		}
		if err := netguard.CheckPostHeaders(headers); err != nil {
			return err
		}
	}
	_, _, err := parseRetryPolicy(options)
	return err
}

// checkSubscriber accepts http(s) URLs with a host and mailto: addresses;
// with NotifyOptions.DenyPrivateTargets, not URLs whose host is an
// address that is not public (netguard.CheckTarget).
func (s *Service) checkSubscriber(subscriber string) error {
	if len(subscriber) > 1024 {
		return store.Errorf(ErrInvalid, "subscriber: %d bytes, over 1024", len(subscriber))
	}
	u, err := url.Parse(subscriber)
	if err != nil {
		return store.Errorf(ErrInvalid, "subscriber %q: %v", subscriber, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Hostname() == "" { // "http://:80/" would dial this host
			return store.Errorf(ErrInvalid, "subscriber %q: no host", subscriber)
		}
		if s.notify.o.DenyPrivateTargets {
			return netguard.CheckTarget(subscriber, u)
		}
		return nil
	case "mailto":
		if _, _, err := mailAddress(subscriber); err != nil {
			return store.Errorf(ErrInvalid, "subscriber %q: %v", subscriber, err)
		}
		return nil
	}
	return store.Errorf(ErrInvalid, "subscriber %q: scheme %q is not http, https or mailto", subscriber, u.Scheme)
}
