package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// createQueue creates a queue (PUT): 201 if it is new, 204 if it existed,
// whose metadata is then left alone (§3.2).
func (h *handler) createQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	m, err := decodeMetadata(b)
	if err != nil {
		return err
	}
	if err := h.checkReserved(m); err != nil {
		return err
	}
	created, err := rq.queue.Create(r.Context(), m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path)
	if created {
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	return noContent(w)
}

// metadata returns a queue's metadata, empty for a missing queue.
func metadata(r *http.Request, q *herald.Queue) (herald.Metadata, bool, error) {
	m, err := q.Metadata(r.Context())
	if errors.Is(err, herald.ErrNotFound) {
		return herald.Metadata{}, false, nil
	}
	return m, err == nil, err
}

// getQueue returns the metadata with reserved defaults; a missing queue
// gives 200 with the defaults alone (§3.4).
func (h *handler) getQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	m, _, err := metadata(r, rq.queue)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.withDefaults(m))
}

// patchQueue updates metadata with a restricted JSON-Patch (§3.5). The
// patch applies to the metadata the write replaces: a concurrent PATCH
// that lands in between makes it apply again to the newer metadata
// (Queue.UpdateMetadata), so neither change is lost.
func (h *handler) patchQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != patchContentType {
		return &apiError{http.StatusUnsupportedMediaType, "Unsupported media type",
			"Accepted media type for PATCH: " + patchContentType + "."}
	}
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	ops, err := decodePatch(b)
	if err != nil {
		return err
	}
	var patched herald.Metadata
	err = rq.queue.UpdateMetadata(r.Context(), func(m herald.Metadata) (herald.Metadata, error) {
		if err := applyPatch(m, ops); err != nil {
			return nil, err
		}
		patched = m
		return m, h.checkReserved(m)
	})
	if isNotFound(err) {
		return notFound("Queue " + rq.queue.Name() + " does not exist.")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.withDefaults(patched))
}

// deleteQueue removes a queue; always 204 (§3.6).
func (h *handler) deleteQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.queue.DeleteQueue(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}

type messageRef struct {
	Href    string `json:"href"`
	Age     int64  `json:"age"`
	Created string `json:"created"`
}

type statsCounts struct {
	Claimed int64 `json:"claimed"`
	Free    int64 `json:"free"`
	Total   int64 `json:"total"`
	// Damaged is herald's: messages set aside because their bodies
	// failed their checksums (M11); absent when there are none, as
	// Zaqar has no such key.
	Damaged int64       `json:"damaged,omitempty"`
	Oldest  *messageRef `json:"oldest,omitempty"`
	Newest  *messageRef `json:"newest,omitempty"`
}

// queueStats counts messages (§3.7); delayed messages count as free, as in
// Zaqar. A missing queue gives zeros.
func (h *handler) queueStats(w http.ResponseWriter, r *http.Request, rq *request) error {
	s, err := rq.queue.Stats(r.Context())
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return err
	}
	out := statsCounts{Claimed: s.Claimed, Free: s.Free + s.Delayed, Total: s.Total, Damaged: s.Damaged}
	ref := func(m *store.MessageRef) *messageRef {
		if m == nil {
			return nil
		}
		return &messageRef{Href: messagePath(rq.queue, m.ID), Age: age(rq.now, m.Created),
			Created: m.Created.UTC().Format("2006-01-02T15:04:05Z")}
	}
	if s.Total > 0 {
		out.Oldest, out.Newest = ref(s.Oldest), ref(s.Newest)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// purgeQueue removes the queue's messages and/or subscriptions (§3.8).
func (h *handler) purgeQueue(w http.ResponseWriter, r *http.Request, rq *request) error {
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	types := []string{"messages", "subscriptions"}
	if b != nil {
		m, err := decodeObject(b, "Document type not supported.")
		if err != nil {
			return err
		}
		raw, ok := m["resource_types"]
		if !ok {
			return invalid("Missing resource_types in the body.")
		}
		types = nil
		if err := jsonUnmarshal(raw, &types); err != nil {
			return invalid("resource_types must be a list of strings.")
		}
		for _, t := range types {
			if t != "messages" && t != "subscriptions" {
				return invalid("Only messages and subscriptions may be purged.")
			}
		}
	}
	if slices.Contains(types, "messages") {
		if err := rq.queue.Purge(r.Context()); err != nil && !errors.Is(err, herald.ErrNotFound) {
			return err
		}
	}
	if slices.Contains(types, "subscriptions") {
		if err := h.purgeSubscriptions(r, rq.queue); err != nil {
			return err
		}
	}
	return noContent(w)
}

// purgeSubscriptions deletes every subscription of q, page by page.
func (h *handler) purgeSubscriptions(r *http.Request, q *herald.Queue) error {
	for {
		subs, err := q.Subscriptions(r.Context(), herald.ID{}, 100)
		if errors.Is(err, errors.ErrUnsupported) {
			return nil
		}
		if err != nil || len(subs) == 0 {
			return err
		}
		for _, s := range subs {
			if err := q.Unsubscribe(r.Context(), s.ID); err != nil {
				return err
			}
		}
	}
}

type queueItem struct {
	Name     string         `json:"name"`
	Href     string         `json:"href"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// listQueues lists the project's queues in name order (§3.9).
func (h *handler) listQueues(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	limit, err := qs.limit("limit", 10, h.o.MaxPerPage)
	if err != nil {
		return err
	}
	detailed, err := qs.boolean("detailed")
	if err != nil {
		return err
	}
	withCount, err := qs.boolean("with_count")
	if err != nil {
		return err
	}
	infos, err := rq.project.ListQueues(r.Context(), herald.ListQueuesOptions{
		Marker: qs.str("marker"), Limit: limit, WithMetadata: detailed,
	})
	if err != nil {
		return err
	}
	items := make([]queueItem, len(infos))
	for i, qi := range infos {
		items[i] = queueItem{Name: qi.Name, Href: "/v2/queues/" + qi.Name}
		if detailed {
			items[i].Metadata = h.withDefaults(qi.Metadata)
		}
	}
	out := map[string]any{"queues": items, "links": nextLinks(r, qs, len(infos) > 0, func() string {
		return infos[len(infos)-1].Name
	})}
	if withCount {
		n, err := h.countQueues(r, rq.project)
		if err != nil {
			return err
		}
		if n > 0 {
			out["count"] = n
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// countQueues counts the project's queues, a page at a time.
func (h *handler) countQueues(r *http.Request, p *herald.Project) (int, error) {
	n, marker := 0, ""
	for {
		infos, err := p.ListQueues(r.Context(), herald.ListQueuesOptions{Marker: marker, Limit: h.lim.MaxMessagesPerCall})
		if err != nil || len(infos) == 0 {
			return n, err
		}
		n += len(infos)
		marker = infos[len(infos)-1].Name
	}
}

// nextLinks returns a listing's "links": a next link carrying the request's
// parameters with the marker moved on, or none after an empty page.
func nextLinks(r *http.Request, qs query, more bool, last func() string) []link {
	if !more {
		return []link{}
	}
	v := url.Values{}
	for k, vs := range qs.v {
		v[k] = vs
	}
	v.Set("marker", last())
	return []link{{Rel: "next", Href: r.URL.Path + "?" + v.Encode()}}
}
