package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// flavorCapabilities are the capabilities of a flavor made over HTTP, in
// Zaqar's numbering (storage.Capabilities): FIFO (1), CLAIMS (2) and
// AOD (4), which herald gives on every store. DURABILITY (3) depends on
// the store, which herald does not declare, and HIGH_THROUGHPUT (5) is
// not claimed.
var flavorCapabilities = []string{"1", "2", "4"}

// flavorView is a flavor as Zaqar shows it.
type flavorView struct {
	Name         string   `json:"name"`
	Href         string   `json:"href"`
	PoolList     []string `json:"pool_list"`
	Capabilities []string `json:"capabilities,omitempty"`
}

func (a *poolAdmin) flavorView(f herald.Flavor, detailed bool) flavorView {
	v := flavorView{Name: f.Name, Href: "/v2/flavors/" + f.Name, PoolList: a.live(f.Pools)}
	if detailed {
		v.Capabilities = f.Capabilities
		if v.Capabilities == nil {
			v.Capabilities = []string{}
		}
	}
	return v
}

func flavorNotFound(name string) *apiError { return notFound("Flavor " + name + " does not exist") }

// decodeFlavor checks a flavor PUT or PATCH body: pool_list, a non-empty
// list of pool names, and capabilities, an object Zaqar ignores (it
// derives them from the pools).
func decodeFlavor(b []byte) ([]string, error) {
	if b == nil {
		return nil, errEmptyBody
	}
	m, err := decodeObject(b, "The flavor must be a JSON object.")
	if err != nil {
		return nil, err
	}
	var pools []string
	for k, raw := range m {
		switch k {
		case "pool_list":
			if json.Unmarshal(raw, &pools) != nil || pools == nil {
				return nil, badBody(`The value of the "pool_list" field must be a list of pool names.`)
			}
		case "capabilities":
			if c, _ := parseJSON(raw); c != '{' {
				return nil, badBody(`The value of the "capabilities" field must be an object.`)
			}
		default:
			return nil, badBody("Additional properties are not allowed ('" + k + "' was unexpected).")
		}
	}
	if len(pools) == 0 {
		return nil, badBody(`The "pool_list" field is required and may not be empty.`)
	}
	return pools, nil
}

// putFlavor creates or replaces a flavor of the project (§8.2): 201.
func (h *handler) putFlavor(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("flavor")
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	pools, err := decodeFlavor(b)
	if err != nil {
		return err
	}
	if err := store.CheckFlavorName(name); err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	old, err := rq.project.Flavor(r.Context(), name)
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return err
	}
	if err := h.setFlavorPools(r.Context(), rq, name, pools, old.Pools); err != nil {
		return err
	}
	w.Header().Set("Location", r.URL.Path)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// patchFlavor changes a flavor's pool list: 200 with the flavor (§8.2).
func (h *handler) patchFlavor(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("flavor")
	b, err := readBody(w, r, h.o.MaxQueueMetadata)
	if err != nil {
		return err
	}
	pools, err := decodeFlavor(b)
	if err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	old, err := rq.project.Flavor(r.Context(), name)
	if errors.Is(err, herald.ErrNotFound) {
		return flavorNotFound(name)
	}
	if err != nil {
		return err
	}
	if err := h.setFlavorPools(r.Context(), rq, name, pools, old.Pools); err != nil {
		return err
	}
	f, err := rq.project.Flavor(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.flavorView(f, true))
}

// setFlavorPools makes pools the flavor's pool list: the pools get the
// flavor as their flavor, and pools of the old list not in the new one
// lose it (Zaqar's pool.flavor). a.mu is held.
func (h *handler) setFlavorPools(ctx context.Context, rq *request, name string, pools, old []string) error {
	a := h.admin
	var list []string
	for _, p := range pools {
		if _, ok := a.pools[p]; !ok {
			return badBody("Pool " + p + " does not exist")
		}
		if !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	for _, p := range list {
		if err := h.canUnlink(ctx, rq, p, name); err != nil {
			return err
		}
	}
	if err := rq.project.SetFlavor(ctx, herald.Flavor{Name: name, Pools: list, Capabilities: flavorCapabilities}); err != nil {
		return err
	}
	for _, p := range a.live(old) {
		if c := a.pools[p]; c.flavor == name && !slices.Contains(list, p) {
			if err := h.svc.SetPoolFlavorOnly(ctx, p, false); err != nil {
				return err
			}
			c.flavor = ""
		}
	}
	for _, p := range list {
		if a.pools[p].flavor != name {
			if err := h.link(ctx, rq, p, name); err != nil {
				return err
			}
		}
	}
	return h.balanceVirtual(ctx)
}

// getFlavor shows a flavor of the project (§8.2).
func (h *handler) getFlavor(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("flavor")
	f, err := rq.project.Flavor(r.Context(), name)
	if errors.Is(err, herald.ErrNotFound) {
		return flavorNotFound(name)
	}
	if err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	return writeJSON(w, http.StatusOK, a.flavorView(f, true))
}

// listFlavors lists the project's flavors by name after marker (§8.2).
func (h *handler) listFlavors(w http.ResponseWriter, r *http.Request, rq *request) error {
	qs := newQuery(r)
	limit, err := qs.limit("limit", 10, 20)
	if err != nil {
		return err
	}
	detailed, err := qs.boolean("detailed")
	if err != nil {
		return err
	}
	fs, err := rq.project.Flavors(r.Context(), qs.str("marker"), limit)
	if err != nil {
		return err
	}
	a := h.admin
	a.mu.Lock()
	items := make([]flavorView, len(fs))
	for i, f := range fs {
		items[i] = a.flavorView(f, detailed)
	}
	a.mu.Unlock()
	return writeJSON(w, http.StatusOK, struct {
		Links   []link       `json:"links"`
		Flavors []flavorView `json:"flavors"`
	}{nextLinks(r, qs, len(fs) > 0, func() string { return fs[len(fs)-1].Name }), items})
}

// deleteFlavor removes a flavor of the project and clears the flavor of
// the pools that had it: 204, also for a missing flavor (§8.2).
func (h *handler) deleteFlavor(w http.ResponseWriter, r *http.Request, rq *request) error {
	name := r.PathValue("flavor")
	a := h.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	defer h.persist()
	f, err := rq.project.Flavor(r.Context(), name)
	if errors.Is(err, herald.ErrNotFound) {
		return noContent(w) // another project's flavor of that name is not ours to unlink
	}
	if err != nil {
		return err
	}
	if err := rq.project.DeleteFlavor(r.Context(), name); err != nil {
		return err
	}
	for _, p := range a.live(f.Pools) {
		if c := a.pools[p]; c.flavor == name {
			if err := h.svc.SetPoolFlavorOnly(r.Context(), p, false); err != nil {
				return err
			}
			c.flavor = ""
		}
	}
	if err := h.balanceVirtual(r.Context()); err != nil {
		return err
	}
	return noContent(w)
}
