package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldmq/herald"
)

// claimTimes reads ttl and grace from a claim body (§5.1, §5.3): absent
// fields take Zaqar's defaults (300 s and 60 s); ttl must be in
// 60..MaxClaimTTL, and grace, when checkGrace, in 60..MaxClaimGrace.
func (h *handler) claimTimes(m map[string]json.RawMessage, checkGrace bool) (ttl, grace time.Duration, err error) {
	t, ok, err := jsonInt(m, "ttl")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		t = 300
	}
	g, ok, err := jsonInt(m, "grace")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		g = 60
	}
	maxTTL := int64(h.lim.MaxClaimTTL / time.Second)
	if t < 60 || t > maxTTL {
		return 0, 0, invalid("The TTL for a claim may not exceed " + strconv.FormatInt(maxTTL, 10) +
			" seconds, and must be at least 60 seconds long.")
	}
	maxGrace := int64(h.lim.MaxClaimGrace / time.Second)
	if checkGrace && (g < 60 || g > maxGrace) {
		return 0, 0, invalid("The grace for a claim may not exceed " + strconv.FormatInt(maxGrace, 10) +
			" seconds, and must be at least 60 seconds long.")
	}
	if g < 0 || g > maxGrace {
		return 0, 0, invalid("The grace for a claim may not exceed " + strconv.FormatInt(maxGrace, 10) + " seconds.")
	}
	return time.Duration(t) * time.Second, time.Duration(g) * time.Second, nil
}

// createClaim claims up to ?limit= messages (§5.1): 201 with them, or 204
// when there was nothing to claim.
func (h *handler) createClaim(w http.ResponseWriter, r *http.Request, rq *request) error {
	limit, err := newQuery(r).limit("limit", 10, h.o.MaxPerPage)
	if err != nil {
		return err
	}
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	m := map[string]json.RawMessage{}
	if b != nil {
		if m, err = decodeObject(b, "Document type not supported."); err != nil {
			return err
		}
	}
	ttl, grace, err := h.claimTimes(m, true)
	if err != nil {
		return err
	}
	c, err := rq.queue.Claim(r.Context(), herald.ClaimOptions{TTL: ttl, Grace: grace, Limit: limit})
	if err != nil {
		return err
	}
	if len(c.Messages) == 0 {
		return noContent(w)
	}
	w.Header().Set("Location", claimPath(rq.queue, c.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"messages": renderMessages(rq.queue, c.Messages, rq.now)})
}

func claimPath(q *herald.Queue, id herald.ID) string {
	return queuePath(q) + "/claims/" + id.String()
}

func (h *handler) claimNotFound(rq *request, id string) error {
	return notFound("Claim " + id + " does not exist in queue " + rq.queue.Name() + " for project " + rq.project.ID())
}

// getClaim shows a live claim and the messages it still holds (§5.2).
func (h *handler) getClaim(w http.ResponseWriter, r *http.Request, rq *request) error {
	text := r.PathValue("id")
	id, err := herald.ParseID(text)
	if err != nil {
		return h.claimNotFound(rq, text)
	}
	c, err := rq.queue.GetClaim(r.Context(), id)
	if err != nil {
		if isNotFound(err) || isClaimNotFound(err) {
			return h.claimNotFound(rq, text)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"age":      age(rq.now, c.Expires.Add(-c.TTL)),
		"ttl":      wholeSeconds(c.TTL),
		"messages": renderMessages(rq.queue, c.Messages, rq.now),
		"href":     claimPath(rq.queue, c.ID),
	})
}

// renewClaim sets a live claim's ttl and grace from now (§5.3): 204, or 404
// for an expired or unknown claim.
func (h *handler) renewClaim(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, err := h.readObject(w, r)
	if err != nil {
		return err
	}
	ttl, grace, err := h.claimTimes(m, false)
	if err != nil {
		return err
	}
	text := r.PathValue("id")
	id, err := herald.ParseID(text)
	if err != nil {
		return h.claimNotFound(rq, text)
	}
	c := rq.queue.ClaimByID(id)
	c.Grace = grace
	if err := c.Renew(r.Context(), ttl); err != nil {
		if isNotFound(err) || isClaimNotFound(err) {
			return h.claimNotFound(rq, text)
		}
		return err
	}
	return noContent(w)
}

// releaseClaim ends a claim, freeing its messages at once; always 204
// (§5.4).
func (h *handler) releaseClaim(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := herald.ParseID(r.PathValue("id"))
	if err != nil {
		return noContent(w)
	}
	if err := rq.queue.ClaimByID(id).Release(r.Context(), 0); err != nil && !isNotFound(err) && !isClaimNotFound(err) {
		return err
	}
	return noContent(w)
}
