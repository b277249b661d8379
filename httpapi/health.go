package httpapi

import (
	"net/http"

	"github.com/heraldmq/herald"
)

// home serves the JSON-Home document (GET /v2/).
func (h *handler) home(w http.ResponseWriter, _ *http.Request, _ *request) error {
	w.Header().Set("Cache-Control", "max-age=86400")
	writeRaw(w, http.StatusOK, "application/json-home", homeDoc)
	return nil
}

// alive reports whether the Service answers: a one-queue listing of the
// caller's project.
func (h *handler) alive(r *http.Request, rq *request) bool {
	_, err := rq.project.ListQueues(r.Context(), herald.ListQueuesOptions{Limit: 1})
	return err == nil
}

// ping answers 204 while the store answers, 503 otherwise (§9.2). HEAD is
// always 204.
func (h *handler) ping(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.Method == http.MethodGet && !h.alive(r, rq) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return nil
	}
	return noContent(w)
}

// health is the admin health report (§9.2), without Zaqar's timed test
// operations: herald reports whether its store answers.
func (h *handler) health(w http.ResponseWriter, r *http.Request, rq *request) error {
	if !h.isAdmin(r) {
		return errNotAuthz
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"storage_reachable": h.alive(r, rq),
		"operation_status":  map[string]any{},
	})
}
