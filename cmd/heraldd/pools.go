package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// defaultPool is the name of the pool on --data in --pools mode: the
// catalog's store, and the handler's virtual pool.
const defaultPool = "default"

// poolOpener returns httpapi.Options.OpenPool for --pools: bolt:///abs/path
// opens a bolt file (not --data, which is the server's own: 409), memory:
// a fresh memory store, and so does any URI whose scheme is in
// --memory-pool-schemes (for clients' test fixtures that name MongoDB or
// Redis). Anything else cannot be connected to (400).
func poolOpener(c *config) (func(uri string, options json.RawMessage) (store.Store, error), error) {
	data, err := filepath.Abs(c.data)
	if err != nil {
		return nil, err
	}
	return func(uri string, _ json.RawMessage) (store.Store, error) {
		u, err := url.Parse(uri)
		if err != nil {
			return nil, err
		}
		switch {
		case u.Scheme == "memory" || slices.Contains(c.memoryPoolSchemes, u.Scheme):
			return memory.New(), nil
		case u.Scheme == "bolt":
			if u.Host != "" || u.Opaque != "" || !filepath.IsAbs(u.Path) {
				return nil, fmt.Errorf("want bolt:///absolute/path.db")
			}
			if filepath.Clean(u.Path) == data {
				return nil, fmt.Errorf("%s is heraldd's own data file: %w", u.Path, herald.ErrConflict)
			}
			return bolt.Open(filepath.Clean(u.Path), nil)
		}
		return nil, fmt.Errorf("heraldd opens bolt:///absolute/path.db and memory: pools, not %q", u.Scheme)
	}, nil
}
