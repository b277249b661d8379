package httpapi

import (
	"encoding/json"
	"slices"
)

// PoolConfig is a pool managed over the admin routes, as Zaqar shows it:
// what a server must keep to add the pool to its Service again after a
// restart (see Options.Pools and Options.PoolsChanged).
type PoolConfig struct {
	Name    string          `json:"name"`
	URI     string          `json:"uri"`
	Weight  int             `json:"weight"`
	Flavor  string          `json:"flavor,omitempty"`
	Options json.RawMessage `json:"options,omitempty"`
}

// configs returns the pools managed over HTTP in name order; a.mu is held.
func (a *poolAdmin) configs() []PoolConfig {
	names := a.names()
	slices.Sort(names)
	out := make([]PoolConfig, len(names))
	for i, n := range names {
		c := a.pools[n]
		out[i] = PoolConfig{Name: n, URI: c.uri, Weight: c.weight, Flavor: c.flavor, Options: c.options}
	}
	return out
}

// persist hands the pools to Options.PoolsChanged after a change; a.mu is
// held, so saves happen in the order of the changes. A failed save is
// logged: the change has taken effect in the Service already.
func (h *handler) persist() {
	if h.o.PoolsChanged == nil {
		return
	}
	if err := h.o.PoolsChanged(h.admin.configs()); err != nil {
		h.o.Logger.Error("httpapi: saving the pools", "err", err)
	}
}
