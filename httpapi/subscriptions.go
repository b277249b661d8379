package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldmq/herald"
)

// subscription is a subscription as Zaqar shows it (§7.1).
type subscription struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Subscriber string          `json:"subscriber"`
	TTL        int64           `json:"ttl"`
	Age        int64           `json:"age"`
	Options    json.RawMessage `json:"options"`
	Confirmed  bool            `json:"confirmed"`
}

func renderSubscription(s herald.Subscription, now time.Time) subscription {
	opts := s.Options
	if len(opts) == 0 {
		opts = json.RawMessage("{}")
	}
	return subscription{ID: s.ID.String(), Source: s.Queue.Name, Subscriber: s.Subscriber,
		TTL: wholeSeconds(s.TTL), Age: age(now, s.Created), Options: opts, Confirmed: s.Confirmed}
}

// subscriberTypes are the URI schemes herald delivers to (Zaqar's
// subscriber_types without trust+http(s), which needs Keystone).
var subscriberTypes = []string{"http", "https", "mailto"}

func checkSubscriber(s string) error {
	u, err := url.Parse(s)
	if err == nil {
		for _, t := range subscriberTypes {
			if strings.EqualFold(u.Scheme, t) {
				return nil
			}
		}
	}
	return invalid("The subscriber type of subscription must be supported in the list " +
		strings.Join(subscriberTypes, ", ") + ".")
}

// subscriptionFields reads the fields of a subscription body; absent ones
// are nil.
func (h *handler) subscriptionFields(m map[string]json.RawMessage) (u herald.SubscriptionUpdate, err error) {
	if raw, ok := m["subscriber"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return u, invalid("The subscriber must be a string.")
		}
		if err := checkSubscriber(s); err != nil {
			return u, err
		}
		u.Subscriber = &s
	}
	ttl, ok, err := jsonInt(m, "ttl")
	if err != nil {
		return u, err
	}
	if ok && ttl != 0 {
		max := int64(h.lim.MaxSubscriptionTTL / time.Second)
		if ttl < 60 || ttl > max {
			return u, invalid("The TTL for a subscription must be at least 60 seconds long and at most " +
				strconv.FormatInt(max, 10) + " seconds.")
		}
		d := time.Duration(ttl) * time.Second
		u.TTL = &d
	}
	if raw, ok := m["options"]; ok && string(raw) != "null" {
		if raw[0] != '{' {
			return u, invalid("Options must be a dict.")
		}
		u.Options = raw
	}
	return u, nil
}

// subscribe creates a subscription (§7.2): 201 with its id, also for a
// subscriber the queue already has (the existing id).
func (h *handler) subscribe(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	if b == nil {
		return invalid("Missing parameter subscriber in body.")
	}
	m, err := decodeObject(b, "Document type not supported.")
	if err != nil {
		return err
	}
	if _, ok := m["subscriber"]; !ok {
		return invalid("Missing parameter subscriber in body.")
	}
	u, err := h.subscriptionFields(m)
	if err != nil {
		return err
	}
	o := herald.SubscribeOptions{Options: u.Options}
	if u.TTL != nil {
		o.TTL = *u.TTL
	}
	sub, _, err := rq.queue.Subscribe(r.Context(), *u.Subscriber, o)
	if err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path)
	return writeJSON(w, http.StatusCreated, map[string]string{"subscription_id": sub.ID.String()})
}

// listSubscriptions lists a queue's subscriptions (§7.3).
func (h *handler) listSubscriptions(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	limit, err := qs.limit("limit", 10, h.o.MaxPerPage)
	if err != nil {
		return err
	}
	var subs []herald.Subscription
	marker, merr := herald.ParseID(qs.str("marker"))
	if !qs.has("marker") || merr == nil {
		if subs, err = rq.queue.Subscriptions(r.Context(), marker, limit); err != nil && !isNotFound(err) {
			return err
		}
	}
	out := make([]subscription, len(subs))
	for i, s := range subs {
		out[i] = renderSubscription(s, rq.now)
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"subscriptions": out,
		"links": nextLinks(r, qs, len(subs) > 0, func() string {
			return subs[len(subs)-1].ID.String()
		}),
	})
}

func (h *handler) subscriptionNotFound(rq *request, id string) error {
	return notFound("Subscription " + id + " does not exist in queue " + rq.queue.Name() +
		" for project " + rq.project.ID())
}

// subscriptionID parses the {id} of a subscription route; a malformed one
// names no subscription (404).
func (h *handler) subscriptionID(r *http.Request, rq *request) (herald.ID, error) {
	text := r.PathValue("id")
	id, err := herald.ParseID(text)
	if err != nil {
		return id, h.subscriptionNotFound(rq, text)
	}
	return id, nil
}

func (h *handler) getSubscription(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := h.subscriptionID(r, rq)
	if err != nil {
		return err
	}
	s, err := rq.queue.Subscription(r.Context(), id)
	if isNotFound(err) {
		return h.subscriptionNotFound(rq, r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, renderSubscription(s, rq.now))
}

// patchSubscription changes a subscription's subscriber, ttl or options
// (§7.3): 204, 404 if unknown, 409 for a duplicate subscriber.
func (h *handler) patchSubscription(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := h.subscriptionID(r, rq)
	if err != nil {
		return err
	}
	m, err := h.readObject(w, r)
	if err != nil {
		return err
	}
	u, err := h.subscriptionFields(m)
	if err != nil {
		return err
	}
	if _, err := rq.queue.UpdateSubscription(r.Context(), id, u); err != nil {
		if isNotFound(err) {
			return h.subscriptionNotFound(rq, r.PathValue("id"))
		}
		return err
	}
	return noContent(w)
}

// unsubscribe deletes a subscription; always 204.
func (h *handler) unsubscribe(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := herald.ParseID(r.PathValue("id"))
	if err != nil {
		return noContent(w)
	}
	if err := rq.queue.Unsubscribe(r.Context(), id); err != nil && !isNotFound(err) {
		return err
	}
	return noContent(w)
}

// confirmSubscription sets a subscription's confirmed flag (§7.3).
func (h *handler) confirmSubscription(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := h.subscriptionID(r, rq)
	if err != nil {
		return err
	}
	m, err := h.readObject(w, r)
	if err != nil {
		return err
	}
	var confirmed bool
	if raw, ok := m["confirmed"]; !ok || json.Unmarshal(raw, &confirmed) != nil {
		return invalid("The 'confirmed' should be boolean.")
	}
	if err := rq.queue.ConfirmSubscription(r.Context(), id, confirmed); err != nil {
		if isNotFound(err) {
			return h.subscriptionNotFound(rq, r.PathValue("id"))
		}
		return err
	}
	return noContent(w)
}
