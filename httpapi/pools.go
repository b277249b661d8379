package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// poolAdmin is what the pools and flavors routes know beyond the Service:
// the Zaqar fields of each pool created over HTTP (zaqar-v2 §8.1). Herald
// keeps a pool's store, weight and FlavorOnly; the uri, options and the
// pool → flavor link live here. mu serialises every pool and flavor change,
// so the link and the flavors' pool lists agree.
type poolAdmin struct {
	mu    sync.Mutex
	pools map[string]*poolConf
}

// poolConf is a pool created over HTTP.
type poolConf struct {
	uri     string
	weight  int
	flavor  string // Zaqar's pool.flavor; "" for none
	options json.RawMessage
}

// poolView is a pool as Zaqar shows it.
type poolView struct {
	Name    string          `json:"name"`
	URI     string          `json:"uri"`
	Weight  int             `json:"weight"`
	Flavor  *string         `json:"flavor"`
	Options json.RawMessage `json:"options,omitempty"`
	Href    string          `json:"href"`
}

func (a *poolAdmin) view(name string, detailed bool) poolView {
	c := a.pools[name]
	v := poolView{Name: name, URI: c.uri, Weight: c.weight, Href: "/v2/pools/" + name}
	if c.flavor != "" {
		v.Flavor = &c.flavor
	}
	if detailed {
		v.Options = c.options
		if v.Options == nil {
			v.Options = json.RawMessage("{}")
		}
	}
	return v
}

func poolNotFound(name string) *apiError { return notFound("Pool " + name + " does not exist") }

// poolFields are a pool PUT or PATCH body; nil pointers are absent fields.
type poolFields struct {
	uri     *string
	weight  *int
	flavor  *string // "" (or null) clears
	options json.RawMessage
}

// decodePool checks a pool body the way Zaqar's JSON schema does: only
// uri, weight, flavor and options; uri a string of at most 255 characters
// with a scheme, weight an integer in 0..2^32-1, flavor a string (or
// null), options an object.
func decodePool(b []byte) (poolFields, error) {
	var f poolFields
	if b == nil {
		return f, errEmptyBody
	}
	m, err := decodeObject(b, "The pool must be a JSON object.")
	if err != nil {
		return f, err
	}
	for k, raw := range m {
		switch k {
		case "uri":
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return f, badBody(`The value of the "uri" field must be a string.`)
			}
			if u, err := url.Parse(s); err != nil || u.Scheme == "" || len(s) > 255 {
				return f, badBody(`The value of the "uri" field must be a URI of at most 255 characters.`)
			}
			f.uri = &s
		case "weight":
			n, ok, err := jsonInt(m, k)
			if err != nil {
				return f, err
			}
			if !ok || n < 0 || n > math.MaxUint32 {
				return f, badBody(`The value of the "weight" field must be an integer from 0 to 4294967295.`)
			}
			w := int(n)
			f.weight = &w
		case "flavor":
			var s *string
			if json.Unmarshal(raw, &s) != nil {
				return f, badBody(`The value of the "flavor" field must be a string.`)
			}
			if s == nil {
				s = new(string)
			}
			f.flavor = s
		case "options":
			if c, _ := parseJSON(raw); c != '{' {
				return f, badBody(`The value of the "options" field must be an object.`)
			}
			f.options = raw
		default:
			return f, badBody("Additional properties are not allowed ('" + k + "' was unexpected).")
		}
	}
	return f, nil
}

// putPool creates or replaces a pool (§8.1): 201.
func (h *handler) putPool(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("pool")
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	f, err := decodePool(b)
	if err != nil {
		return err
	}
	if f.uri == nil || f.weight == nil {
		return badBody(`The "uri" and "weight" fields are required.`)
	}
	if err := store.CheckPoolName(name); err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	if _, ok := a.pools[name]; ok {
		if f.flavor == nil {
			f.flavor = new(string)
		}
		if f.options == nil {
			f.options = json.RawMessage("{}")
		}
		if err := h.updatePool(r.Context(), rq, name, f); err != nil {
			return err
		}
	} else if err := h.addPool(r.Context(), rq, name, f); err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uriTaken reports whether a pool other than name uses uri.
func (a *poolAdmin) uriTaken(name, uri string) bool {
	for n, c := range a.pools {
		if n != name && c.uri == uri {
			return true
		}
	}
	return false
}

// open opens the store at uri through Options.OpenPool: an error that is
// a herald.ErrConflict answers 409, any other 400 as Zaqar's "cannot
// connect".
func (h *handler) open(uri string, options json.RawMessage) (store.Store, error) {
	st, err := h.o.OpenPool(uri, options)
	if err != nil {
		if errors.Is(err, herald.ErrConflict) {
			return nil, conflict(err.Error())
		}
		return nil, badBody("cannot connect to " + uri + ": " + err.Error())
	}
	return st, nil
}

// addPool adds a new pool to the Service; a.mu is held.
func (h *handler) addPool(ctx context.Context, rq *request, name string, f poolFields) error {
	a := h.admin
	if a.uriTaken(name, *f.uri) {
		return conflict("Pool " + name + ": uri " + *f.uri + " is used by another pool.")
	}
	flavor := ""
	if f.flavor != nil {
		flavor = *f.flavor
	}
	st, err := h.open(*f.uri, f.options)
	if err != nil {
		return err
	}
	err = h.svc.AddPool(ctx, herald.Pool{Name: name, Store: st, Weight: *f.weight, FlavorOnly: flavor != ""})
	if err != nil {
		err = errors.Join(err, st.Close())
		if errors.Is(err, herald.ErrInvalid) {
			// The name or store of a pool not managed over HTTP.
			return conflict(err.Error())
		}
		return err
	}
	a.pools[name] = &poolConf{uri: *f.uri, weight: *f.weight, options: f.options}
	if err := h.link(ctx, rq, name, flavor); err != nil {
		return err
	}
	return h.balanceVirtual(ctx)
}

// updatePool applies the fields present in f to an existing pool; a.mu is
// held. A new uri swaps the pool's store, which herald allows only while
// the pool holds no queue (queues never move).
func (h *handler) updatePool(ctx context.Context, rq *request, name string, f poolFields) error {
	a := h.admin
	c := a.pools[name]
	if f.flavor != nil && *f.flavor != c.flavor {
		if err := h.canUnlink(ctx, rq, name, *f.flavor); err != nil {
			return err
		}
	}
	if f.uri != nil && *f.uri != c.uri {
		if a.uriTaken(name, *f.uri) {
			return conflict("Pool " + name + ": uri " + *f.uri + " is used by another pool.")
		}
		options := c.options
		if f.options != nil {
			options = f.options
		}
		st, err := h.open(*f.uri, options)
		if err != nil {
			return err
		}
		if err := h.svc.RemovePool(ctx, name); err != nil {
			err = errors.Join(err, st.Close())
			if errors.Is(err, herald.ErrPoolInUse) {
				return conflict("Pool " + name + " holds queues; its uri cannot change: " + err.Error())
			}
			return err
		}
		err = h.svc.AddPool(ctx, herald.Pool{Name: name, Store: st, Weight: c.weight, FlavorOnly: c.flavor != ""})
		if err != nil {
			delete(a.pools, name)
			return errors.Join(err, st.Close())
		}
		c.uri = *f.uri
	}
	if f.weight != nil && *f.weight != c.weight {
		if err := h.svc.SetPoolWeight(ctx, name, *f.weight); err != nil {
			return err
		}
		c.weight = *f.weight
	}
	if f.options != nil {
		c.options = f.options
	}
	if f.flavor != nil {
		if err := h.link(ctx, rq, name, *f.flavor); err != nil {
			return err
		}
	}
	return h.balanceVirtual(ctx)
}

// canUnlink refuses to take the last pool out of a flavor of the
// project: herald's flavors name at least one pool, and Zaqar refuses to
// delete the last pool of a flavor (403).
func (h *handler) canUnlink(ctx context.Context, rq *request, pool, to string) error {
	from := h.admin.pools[pool].flavor
	if from == "" || from == to {
		return nil
	}
	f, err := rq.project.Flavor(ctx, from)
	if errors.Is(err, herald.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if slices.Equal(h.admin.live(f.Pools), []string{pool}) {
		return &apiError{http.StatusForbidden, "Unable to update",
			"Pool " + pool + " is the last pool of flavor " + from + "; delete or change the flavor first."}
	}
	return nil
}

// link sets a pool's flavor link (Zaqar's pool.flavor) and what herald
// makes of it: FlavorOnly, and membership of the project's flavors of
// that name. canUnlink has been checked; a.mu is held.
func (h *handler) link(ctx context.Context, rq *request, pool, flavor string) error {
	a := h.admin
	c := a.pools[pool]
	if from := c.flavor; from != "" && from != flavor {
		if f, err := rq.project.Flavor(ctx, from); err == nil {
			f.Pools = slices.DeleteFunc(a.live(f.Pools), func(p string) bool { return p == pool })
			if len(f.Pools) > 0 {
				if err := rq.project.SetFlavor(ctx, f); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, herald.ErrNotFound) {
			return err
		}
	}
	if flavor != "" {
		if f, err := rq.project.Flavor(ctx, flavor); err == nil {
			if !slices.Contains(f.Pools, pool) {
				f.Pools = append(a.live(f.Pools), pool)
				if err := rq.project.SetFlavor(ctx, f); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, herald.ErrNotFound) {
			return err
		}
	}
	if err := h.svc.SetPoolFlavorOnly(ctx, pool, flavor != ""); err != nil {
		return err
	}
	c.flavor = flavor
	return nil
}

// live keeps the pools that exist over HTTP (a flavor may still name a
// removed pool).
func (a *poolAdmin) live(pools []string) []string {
	out := make([]string, 0, len(pools))
	for _, p := range pools {
		if _, ok := a.pools[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// balanceVirtual plays Zaqar's enable_virtual_pool with
// Options.VirtualPool: it takes new queues without a flavor only while no
// pool without a flavor has a weight above 0. a.mu is held.
func (h *handler) balanceVirtual(ctx context.Context) error {
	if h.o.VirtualPool == "" {
		return nil
	}
	weight := 1
	for _, c := range h.admin.pools {
		if c.flavor == "" && c.weight > 0 {
			weight = 0
			break
		}
	}
	return h.svc.SetPoolWeight(ctx, h.o.VirtualPool, weight)
}

// getPool shows one pool; options only if detailed (§8.1).
func (h *handler) getPool(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("pool")
	detailed, err := newQuery(r).boolean("detailed")
	if err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.pools[name]; !ok {
		return poolNotFound(name)
	}
	return writeJSON(w, http.StatusOK, a.view(name, detailed))
}

// listPools lists pools by name after marker (§8.1).
func (h *handler) listPools(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	limit, err := qs.limit("limit", 10, 20)
	if err != nil {
		return err
	}
	detailed, err := qs.boolean("detailed")
	if err != nil {
		return err
	}
	marker := qs.str("marker")
	a := h.admin
	a.mu.Lock()
	names := make([]string, 0, len(a.pools))
	for n := range a.pools {
		if n > marker {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = names[:min(limit, len(names))]
	items := make([]poolView, len(names))
	for i, n := range names {
		items[i] = a.view(n, detailed)
	}
	a.mu.Unlock()
	return writeJSON(w, http.StatusOK, struct {
		Links []link     `json:"links"`
		Pools []poolView `json:"pools"`
	}{nextLinks(r, qs, len(names) > 0, func() string { return names[len(names)-1] }), items})
}

// patchPool changes some of a pool's fields: 200 with the pool (§8.1).
func (h *handler) patchPool(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("pool")
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	f, err := decodePool(b)
	if err != nil {
		return err
	}
	if f.uri == nil && f.weight == nil && f.flavor == nil && f.options == nil {
		return badBody("One of `uri`, `weight`, `flavor`, or `options` needs to be specified")
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	if _, ok := a.pools[name]; !ok {
		return poolNotFound(name)
	}
	if err := h.updatePool(r.Context(), rq, name, f); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.view(name, false))
}

// deletePool removes a pool: 204, also for a missing one; 403 for the
// last pool of a flavor, as in Zaqar, and for a pool that holds queues
// (herald never strands a queue; Zaqar would).
func (h *handler) deletePool(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("pool")
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	c, ok := a.pools[name]
	if !ok {
		return noContent(w)
	}
	if c.flavor != "" && !slices.ContainsFunc(a.names(), func(n string) bool { return n != name && a.pools[n].flavor == c.flavor }) {
		return &apiError{http.StatusForbidden, "Unable to delete",
			"Pool " + name + " is the last pool of flavor " + c.flavor + "."}
	}
	if err := h.canUnlink(r.Context(), rq, name, ""); err != nil {
		return err
	}
	err := h.svc.RemovePool(r.Context(), name)
	if errors.Is(err, herald.ErrPoolInUse) {
		return &apiError{http.StatusForbidden, "Unable to delete", "Pool " + name + " holds queues; delete them first. " + err.Error()}
	}
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		if _, gone := h.svc.Pool(r.Context(), name); !errors.Is(gone, herald.ErrNotFound) {
			return err
		}
		// Removed, but closing its store failed: log it and go on.
		h.o.Logger.Error("httpapi: closing a removed pool's store", "pool", name, "err", err)
	}
	if err := h.link(r.Context(), rq, name, ""); err != nil && !errors.Is(err, herald.ErrNotFound) {
		return err
	}
	delete(a.pools, name)
	if err := h.balanceVirtual(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}

func (a *poolAdmin) names() []string {
	out := make([]string, 0, len(a.pools))
	for n := range a.pools {
		out = append(out, n)
	}
	return out
}
