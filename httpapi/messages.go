package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldmq/herald"
)

// decodeDrafts parses a message POST body (§4.1): an object whose
// "messages" is a non-empty array of {body, ttl?, delay?}. TTLs must be in
// 60 s..MaxMessageTTL and delays in 0..MaxMessageDelay.
func (h *handler) decodeDrafts(b []byte) ([]herald.Draft, error) {
	if len(b) == 0 {
		return nil, errEmptyBody
	}
	noMessages := invalid("No messages were found in the request body.")
	c, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	if c != '{' {
		return nil, noMessages
	}
	var doc struct {
		Messages *[]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, noMessages
	}
	if doc.Messages == nil {
		return nil, noMessages
	}
	if len(*doc.Messages) == 0 {
		return nil, invalid("No messages to enqueu.")
	}
	maxTTL := int64(h.lim.MaxMessageTTL / time.Second)
	maxDelay := int64(h.lim.MaxMessageDelay / time.Second)
	drafts := make([]herald.Draft, len(*doc.Messages))
	for i, raw := range *doc.Messages {
		var m map[string]json.RawMessage
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
			return nil, badBody("Each message must be an object.")
		}
		body, ok := m["body"]
		if !ok {
			return nil, badBody(`Missing "body" field.`)
		}
		ttl, hasTTL, err := jsonInt(m, "ttl")
		if err != nil {
			return nil, err
		}
		if hasTTL && (ttl < 60 || ttl > maxTTL) {
			return nil, invalid("The TTL for a message may not exceed " + strconv.FormatInt(maxTTL, 10) +
				" seconds, and must be at least 60 seconds long.")
		}
		delay, _, err := jsonInt(m, "delay")
		if err != nil {
			return nil, err
		}
		if delay < 0 || delay > maxDelay {
			return nil, invalid("The Delay TTL for a message may not exceed " + strconv.FormatInt(maxDelay, 10) +
				" seconds, and must be at least 0 seconds long.")
		}
		drafts[i] = herald.Draft{
			Body:  body,
			TTL:   time.Duration(seconds(ttl)) * time.Second,
			Delay: time.Duration(seconds(delay)) * time.Second,
		}
	}
	return drafts, nil
}

// postMessages posts a batch atomically (§4.1): 201 with the new messages'
// paths in submission order.
func (h *handler) postMessages(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := readBody(w, r, h.o.MaxMessagesPostSize)
	if err != nil {
		return err
	}
	drafts, err := h.decodeDrafts(b)
	if err != nil {
		return err
	}
	ids, err := rq.queue.Post(r.Context(), drafts...)
	if err != nil {
		return err
	}
	paths := make([]string, len(ids))
	text := make([]string, len(ids))
	for i, id := range ids {
		text[i] = id.String()
		paths[i] = messagePath(rq.queue, id)
	}
	w.Header().Set("Location", queuePath(rq.queue)+"/messages?ids="+strings.Join(text, ","))
	return writeJSON(w, http.StatusCreated, map[string]any{"resources": paths})
}

// parseIDs parses the ids parameter (1..MaxPerPage of them), skipping
// malformed ones as Zaqar does.
func (h *handler) parseIDs(qs query) ([]herald.ID, error) {
	texts := qs.list("ids")
	if len(texts) > h.o.MaxPerPage {
		return nil, invalid("No more than " + strconv.Itoa(h.o.MaxPerPage) + " messages can be retrieved or deleted at once.")
	}
	ids := make([]herald.ID, 0, len(texts))
	for _, s := range texts {
		if id, err := herald.ParseID(s); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// getMessages lists messages (§4.2), or gets them by id with ?ids= (§4.4).
func (h *handler) getMessages(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	if qs.has("ids") {
		ids, err := h.parseIDs(qs)
		if err != nil {
			return err
		}
		var msgs []herald.Message
		if len(ids) > 0 {
			if msgs, err = rq.queue.GetMany(r.Context(), ids...); err != nil {
				return err
			}
		}
		if len(msgs) == 0 {
			return notFound("No messages with IDs: " + strings.Join(qs.list("ids"), ","))
		}
		return writeJSON(w, http.StatusOK, map[string]any{"messages": renderMessages(rq.queue, msgs, rq.now)})
	}
	limit, err := qs.limit("limit", 10, h.o.MaxPerPage)
	if err != nil {
		return err
	}
	o := herald.ListOptions{Limit: limit}
	for _, f := range []struct {
		key string
		to  *bool
	}{{"echo", &o.Echo}, {"include_claimed", &o.IncludeClaimed}, {"include_delayed", &o.IncludeDelayed}} {
		if *f.to, err = qs.boolean(f.key); err != nil {
			return err
		}
	}
	var msgs []herald.Message
	marker, merr := herald.ParseID(qs.str("marker"))
	if qs.has("marker") && merr != nil {
		msgs = nil // an unknown marker gives an empty page, as on mongo
	} else {
		o.Marker = marker
		if msgs, err = rq.queue.List(r.Context(), o); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"messages": renderMessages(rq.queue, msgs, rq.now),
		"links": nextLinks(r, qs, len(msgs) > 0, func() string {
			return msgs[len(msgs)-1].ID.String()
		}),
	})
}

func (h *handler) messageNotFound(rq *request, id string) error {
	return notFound("Message " + id + " does not exist in queue " + rq.queue.Name() +
		" for project " + rq.project.ID())
}

// getMessage returns one message, claimed or delayed alike (§4.3).
func (h *handler) getMessage(w http.ResponseWriter, r *http.Request, rq *request) error {
	text := r.PathValue("id")
	id, err := herald.ParseID(text)
	if err != nil {
		return h.messageNotFound(rq, text)
	}
	m, err := rq.queue.Get(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return h.messageNotFound(rq, text)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, renderMessage(rq.queue, m, rq.now))
}

// deleteMessage deletes one message (§4.5): a claimed message needs its
// claim's id (403 otherwise); a claim id for an unclaimed message, or one
// that is malformed, answers 400. A message that does not exist answers
// 204 with or without a claim id, as Zaqar's do, although herald refuses
// that settle (ErrMessageGone, C3): an HTTP client learns no more from a
// 400 here than Zaqar tells it, and its retried DELETE stays idempotent.
func (h *handler) deleteMessage(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	var claim herald.ID
	if qs.has("claim_id") {
		var err error
		if claim, err = herald.ParseID(qs.str("claim_id")); err != nil {
			return errNoSuchClaim
		}
	}
	id, err := herald.ParseID(r.PathValue("id"))
	if err != nil {
		return noContent(w) // a malformed id names no message
	}
	if claim.IsZero() {
		err = rq.queue.Delete(r.Context(), id)
	} else {
		err = rq.queue.ClaimByID(claim).Delete(r.Context(), id)
	}
	if err != nil && !isNotFound(err) && !errors.Is(err, herald.ErrMessageGone) {
		return err
	}
	return noContent(w)
}

// deleteMessages deletes by ids whatever their claims (204), or pops up to
// N free messages (200) (§4.6). Exactly one of ids and pop is required.
func (h *handler) deleteMessages(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	switch {
	case qs.has("ids") && qs.has("pop"):
		return invalid("ids and pop may not be specified at the same time.")
	case qs.has("ids"):
		ids, err := h.parseIDs(qs)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := rq.queue.ForceDelete(r.Context(), ids...); err != nil && !isNotFound(err) {
				return err
			}
		}
		return noContent(w)
	case qs.has("pop"):
		n, err := qs.limit("pop", 0, h.o.MaxPerPage)
		if err != nil {
			return err
		}
		msgs, err := rq.queue.Pop(r.Context(), n)
		if err != nil && !isNotFound(err) {
			return err
		}
		out := make([]poppedMessage, len(msgs))
		for i, m := range msgs {
			out[i] = poppedMessage{ID: m.ID.String(), Age: age(rq.now, m.Created),
				TTL: wholeSeconds(m.Expires.Sub(m.Created)), Body: bodyJSON(m.Body), ClaimCount: m.ClaimCount}
		}
		return writeJSON(w, http.StatusOK, map[string]any{"messages": out})
	}
	return invalid("Either ids or pop must be specified; deleting a whole queue's messages this way is refused.")
}
