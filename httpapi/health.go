package httpapi

import (
	"net/http"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
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

// ping answers 204 while the store answers and takes writes, 503
// otherwise (§9.2): a store whose writes fail (herald.Service.Health) is
// down for a client even if it still reads. HEAD skips the read.
func (h *handler) ping(w http.ResponseWriter, r *http.Request, rq *request) error {
	if h.svc.Health().Err != nil || r.Method == http.MethodGet && !h.alive(r, rq) {
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
	report := map[string]any{
		"storage_reachable": h.alive(r, rq),
		"operation_status":  map[string]any{},
	}
	// A store that fails its writes is not reachable for a client, and
	// storage_error says why, in words (no paths).
	if st := h.svc.Health(); st.Err != nil {
		report["storage_reachable"] = false
		report["storage_error"] = store.UnavailableReason(st.Err)
	}
	return writeJSON(w, http.StatusOK, report)
}
