package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// Options configure the handler New returns. The zero value serves Zaqar's
// noauth mode with Zaqar's default limits.
type Options struct {
	// Auth authenticates a request before anything else is looked at.
	// It returns the project the caller acts for, or "" to take the
	// X-Project-ID header as is; an error answers 401. Nil means no
	// authentication (Zaqar's noauth mode): every caller acts for the
	// project its X-Project-ID header names. See TokenAuth.
	Auth func(r *http.Request) (project string, err error)

	// LaxClientID accepts any Client-ID of 10 to 36 bytes (Zaqar's
	// client_id_uuid_safe = off). False requires a UUID, as Zaqar does
	// by default.
	LaxClientID bool

	// Admin serves GET /v2/health, and with OpenPool the pools and
	// flavors routes, to the callers IsAdmin admits; the others get 403
	// "Not authorized", as Zaqar's role:admin policy answers. False
	// answers health 403, as Zaqar does without admin_mode.
	Admin bool
	// IsAdmin says which requests may use the admin routes when Admin is
	// on. Nil means, without Auth (noauth), the requests whose X-Roles
	// header lists the role admin (HasRole("admin"): Zaqar's noauth
	// policy, where roles come from that header, so it guards against
	// mistakes, not attackers); with Auth, every caller Auth lets in, so
	// set IsAdmin (see TokenIn) unless they all may.
	IsAdmin func(r *http.Request) bool

	// MaxMessagesPostSize bounds the raw body of a message POST in bytes.
	// Zero means the Service's Limits.MaxPostSize (256 KiB by default).
	MaxMessagesPostSize int
	// MaxQueueMetadata bounds the raw body of a queue PUT or PATCH and
	// of the other small JSON bodies (claims, subscriptions, purge,
	// share). Zero means the Service's Limits.MaxMetadataSize (64 KiB).
	MaxQueueMetadata int
	// MaxPerPage bounds list pages, the ids of one get or delete, and the
	// messages of one claim or pop. Zero means 20, as in Zaqar. It may
	// not exceed the Service's Limits.MaxMessagesPerCall.
	MaxPerPage int

	// SignedURLKey is the secret that signs pre-signed queue URLs (Zaqar's
	// [signed_url] secret_key). Empty turns them off: POST .../share
	// answers 400 and a URL-Signature header is never accepted.
	SignedURLKey string

	// OpenPool turns on the pools and flavors admin routes (zaqar-v2
	// §8) when Admin is set too; nil leaves them unserved (404), as
	// Zaqar without pooling does. It opens the store a pool's uri names,
	// with the pool's options (a JSON object, or nil), for a Service made
	// with herald.Options.Pools (others answer 501). An error answers
	// 400 ("cannot connect"), or 409 if it is a herald.ErrConflict (say,
	// the uri of a store the server already uses). The Service owns the
	// store from then on. Pools made over HTTP are listed and managed
	// over HTTP; the Service's other pools are not shown.
	OpenPool func(uri string, options json.RawMessage) (store.Store, error)
	// VirtualPool, if set, names a pool of the Service that plays Zaqar's
	// virtual pool ([pooling:catalog] enable_virtual_pool): it is not
	// listed, and it takes new queues without a flavor only while no pool
	// made over HTTP without a flavor has a weight above 0 (the handler
	// sets its weight to 0 or 1).
	VirtualPool string
	// Pools are pools made over the admin routes before a restart, which
	// the caller has added to the Service again (opening each URI and
	// calling Service.AddPool with FlavorOnly set for a flavor): the
	// handler takes them back under its management.
	Pools []PoolConfig
	// PoolsChanged, if set, is called with every pool managed over HTTP
	// after each change to them (pool or flavor routes), in order, so the
	// caller can keep them for the next start. Nil keeps them in memory
	// only: a restart forgets them.
	PoolsChanged func([]PoolConfig) error

	// Logger receives unexpected errors (answered 500). Nil means
	// slog.Default().
	Logger *slog.Logger

	// Now is the clock for ages and signed-URL expiry. Nil means time.Now.
	Now func() time.Time
}

// handler serves the API.
type handler struct {
	svc *herald.Service
	o   Options
	mux *http.ServeMux
	lim herald.Limits
	// admin is the state of the pools and flavors routes.
	admin *poolAdmin
}

// New returns an http.Handler serving Zaqar's v2 REST API over svc. It starts
// no goroutine; closing svc is the caller's business, after the server using
// the handler has shut down. New panics if svc is nil.
func New(svc *herald.Service, opts Options) http.Handler {
	if svc == nil {
		panic("httpapi: nil Service")
	}
	h := &handler{svc: svc, o: opts, mux: http.NewServeMux(), lim: svc.Limits(),
		admin: &poolAdmin{pools: map[string]*poolConf{}}}
	for _, c := range opts.Pools {
		h.admin.pools[c.Name] = &poolConf{uri: c.URI, weight: c.Weight, flavor: c.Flavor, options: c.Options}
	}
	if h.o.MaxMessagesPostSize <= 0 {
		h.o.MaxMessagesPostSize = h.lim.MaxPostSize
	}
	if h.o.MaxQueueMetadata <= 0 {
		h.o.MaxQueueMetadata = h.lim.MaxMetadataSize
	}
	if h.o.MaxPerPage <= 0 {
		h.o.MaxPerPage = 20
	}
	h.o.MaxPerPage = min(h.o.MaxPerPage, h.lim.MaxMessagesPerCall)
	if h.o.Logger == nil {
		h.o.Logger = slog.Default()
	}
	if h.o.Now == nil {
		h.o.Now = time.Now
	}
	if len(opts.Pools) > 0 { // the virtual pool's weight follows them (a restart)
		if err := h.balanceVirtual(context.Background()); err != nil {
			h.o.Logger.Error("httpapi: weighting the virtual pool", "pool", h.o.VirtualPool, "err", err)
		}
	}
	h.routes()
	return h
}

// ServeHTTP answers the version document itself and everything else through
// the mux, turning its plain-text 404 and 405 answers into Zaqar's JSON.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Openstack-Request-Id", requestID())
	if r.URL.Path == "/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, errMethod)
			return
		}
		writeRaw(w, http.StatusMultipleChoices, "application/json", versionsDoc)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.mux.ServeHTTP(&jsonErrorWriter{ResponseWriter: w}, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// request is what the common checks learnt about a request.
type request struct {
	project  *herald.Project
	clientID string
	queue    *herald.Queue // nil on routes without {queue}
	now      time.Time
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, rq *request) error

// handle registers fn for pattern behind the checks Zaqar runs before
// every request (zaqar-v2 §1.2): authentication or a pre-signed URL,
// form bodies, Accept, Client-ID, project and queue name.
func (h *handler) handle(pattern string, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq, err := h.check(r)
		if err == nil {
			err = fn(w, r, rq)
		}
		if err != nil {
			h.fail(w, r, err)
		}
	})
}

// isAdmin reports whether r may use the admin routes.
func (h *handler) isAdmin(r *http.Request) bool {
	switch {
	case !h.o.Admin:
		return false
	case h.o.IsAdmin != nil:
		return h.o.IsAdmin(r)
	}
	return h.o.Auth != nil || hasRole(r, "admin")
}

// adminOnly answers 403 to a request that may not use the admin routes.
func (h *handler) adminOnly(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		if !h.isAdmin(r) {
			return errNotAuthz
		}
		return fn(w, r, rq)
	}
}

func (h *handler) check(r *http.Request) (*request, error) {
	project := ""
	if r.Header.Get("URL-Signature") != "" {
		if err := h.verifySigned(r); err != nil {
			return nil, err
		}
	} else if h.o.Auth != nil {
		p, err := h.o.Auth(r)
		if err != nil {
			return nil, &apiError{http.StatusUnauthorized, "Authentication required", err.Error()}
		}
		project = p
	}
	if r.ContentLength != 0 {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			return nil, badRequest("Invalid Content-Type", "Form-encoded bodies are not supported.")
		}
	}
	if !acceptsJSON(r.Header.Values("Accept")) {
		return nil, &apiError{http.StatusNotAcceptable, "Media type not acceptable",
			"Endpoint only serves `application/json`; specify client-side media type support with the \"Accept\" header."}
	}
	cid, err := h.clientID(r.Header.Values("Client-Id"))
	if err != nil {
		return nil, err
	}
	if project == "" {
		ps, ok := r.Header["X-Project-Id"]
		switch {
		case !ok:
			return nil, badRequest("Project-Id Missing", "The header X-PROJECT-ID was missing")
		case len(ps) == 0 || ps[0] == "":
			return nil, badRequest("Empty project header not allowed", "X-PROJECT-ID cannot be an empty string. Specify the right header X-PROJECT-ID and retry.")
		}
		project = ps[0]
	}
	if err := store.CheckProject(project); err != nil {
		return nil, errBadQueueID
	}
	recordProject(r, project)
	rq := &request{project: h.svc.Project(project), clientID: cid, now: h.o.Now()}
	if name := r.PathValue("queue"); name != "" {
		if store.CheckQueueName(name) != nil {
			return nil, errBadQueueID
		}
		rq.queue = rq.project.Queue(name).WithClientID(cid)
	}
	return rq, nil
}

// acceptsJSON reports whether Accept headers allow application/json; none
// at all does.
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "", "*/*", "application/*", "application/json":
				return true
			}
		}
	}
	return false
}

// fail answers err: an *apiError as it is, a herald error by its kind
// (errors.go), anything else 500, logged.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.status == http.StatusInternalServerError {
		h.o.Logger.Error("httpapi: unexpected error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, e)
}

var errMethod = &apiError{http.StatusMethodNotAllowed, "Method not allowed", "The method is not allowed on this resource."}

// jsonErrorWriter replaces the body of the mux's own error answers (404,
// 405) with Zaqar's error JSON, keeping the status and Allow header.
type jsonErrorWriter struct {
	http.ResponseWriter
	wrote bool
}

func (j *jsonErrorWriter) WriteHeader(code int) {
	if j.wrote {
		return
	}
	j.wrote = true
	e := &apiError{code, http.StatusText(code), "The requested resource does not exist."}
	if code == http.StatusMethodNotAllowed {
		e = errMethod
	}
	j.ResponseWriter.Header().Del("X-Content-Type-Options")
	writeError(j.ResponseWriter, e)
}

func (j *jsonErrorWriter) Write(b []byte) (int, error) {
	if !j.wrote {
		j.WriteHeader(http.StatusOK)
	}
	return len(b), nil
}
