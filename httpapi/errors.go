package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// apiError is an answer in Zaqar's error shape: {"title", "description"}.
type apiError struct {
	status      int
	title       string
	description string
}

func (e *apiError) Error() string { return e.title + ": " + e.description }

func badRequest(title, description string) *apiError {
	return &apiError{http.StatusBadRequest, title, description}
}

// invalid is Zaqar's answer to a request that fails validation.
func invalid(description string) *apiError {
	return badRequest("Invalid API request", description)
}

// badBody is Zaqar's answer to a body that cannot be parsed or has the wrong
// types.
func badBody(description string) *apiError {
	return badRequest("Invalid request body", description)
}

func notFound(description string) *apiError {
	return &apiError{http.StatusNotFound, "Not found", description}
}

var (
	errBadQueueID = badRequest("Invalid queue identification",
		"The format of the submitted queue name or project id is not valid.")
	errUnparsable = badBody("Request body could not be parsed.")
	errEmptyBody  = badRequest("Invalid API request", "Request body can not be empty")
	errClaimed    = &apiError{http.StatusForbidden, "Unable to delete",
		"This message is claimed; it cannot be deleted without a valid claim ID."}
	errNoSuchClaim = invalid("The specified claim does not exist or has expired.")
	errNotClaimed  = invalid("A claim was specified, but the message is not currently claimed.")
	errNotAuthz    = &apiError{http.StatusForbidden, "Not authorized", "You are not authorized to complete this action."}
)

// tooLarge answers a body over its cap (herald answers 413 where Zaqar
// answers 400: see DEVIATIONS in doc.go).
func tooLarge(limit int) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "Request Entity Too Large",
		"The request body may not be larger than " + strconv.Itoa(limit) + " bytes."}
}

// toAPIError maps an error to its answer. It is the one place where herald's
// sentinel errors meet HTTP status codes.
func toAPIError(err error) *apiError {
	var e *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mbe):
		return tooLarge(int(mbe.Limit))
	case errors.Is(err, herald.ErrTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, "Request Entity Too Large", err.Error()}
	case errors.Is(err, herald.ErrInvalid), errors.Is(err, herald.ErrCrossPool),
		errors.Is(err, herald.ErrTooMany):
		// A limit on queues or subscriptions (L1, L2) is refused as Zaqar
		// refuses what its limits forbid: 400, the description naming
		// the limit and its value.
		return invalid(err.Error())
	case errors.Is(err, herald.ErrNotFound), errors.Is(err, herald.ErrClaimNotFound):
		return notFound(err.Error())
	case errors.Is(err, herald.ErrClaimMismatch):
		return errClaimed
	case errors.Is(err, herald.ErrNotClaimed):
		return errNotClaimed
	case errors.Is(err, herald.ErrConflict), errors.Is(err, herald.ErrPoolInUse):
		return &apiError{http.StatusConflict, "Resource conflict", err.Error()}
	case errors.Is(err, errors.ErrUnsupported):
		return &apiError{http.StatusNotImplemented, "Not implemented", err.Error()}
	case errors.Is(err, herald.ErrUnavailable):
		return unavailable(err)
	case errors.Is(err, herald.ErrClosed), errors.Is(err, herald.ErrCorrupt),
		errors.Is(err, herald.ErrLocked), errors.Is(err, herald.ErrNoPool),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "Service temporarily unavailable",
			err.Error() + " Please try again in a few seconds."}
	}
	return &apiError{http.StatusInternalServerError, "Internal server error", "An unexpected error occurred."}
}

// unavailable answers a store that cannot serve now (§4): 503 naming the
// kind of failure in words, never the error text, which names files.
func unavailable(err error) *apiError {
	return &apiError{http.StatusServiceUnavailable, "Service temporarily unavailable",
		"The storage cannot serve this request now: " + store.UnavailableReason(err) + ". Please try again later."}
}

func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(map[string]string{"title": e.title, "description": e.description})
	writeRaw(w, e.status, "application/json", b)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeRaw(w, status, "application/json", b)
	return nil
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func conflict(description string) *apiError {
	return &apiError{http.StatusConflict, "Resource conflict", description}
}

// isNotFound reports a missing queue or message, which many routes answer
// as if it were there and empty.
func isNotFound(err error) bool { return errors.Is(err, herald.ErrNotFound) }

func isClaimNotFound(err error) bool { return errors.Is(err, herald.ErrClaimNotFound) }
