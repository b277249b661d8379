package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/httpapi"
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
	dir := c.poolDir
	if dir == "" {
		dir = filepath.Dir(data)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("--pool-dir: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
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
			// Admin callers name files: keep them inside the pool directory,
			// symlinks resolved, so no request can create or take over a
			// file elsewhere.
			parent, err := filepath.EvalSymlinks(filepath.Dir(filepath.Clean(u.Path)))
			if err != nil {
				return nil, err
			}
			if rel, err := filepath.Rel(dir, parent); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return nil, fmt.Errorf("%s: pool files live in %s (--pool-dir)", u.Path, dir)
			}
			return bolt.Open(filepath.Join(parent, filepath.Base(u.Path)), nil)
		}
		return nil, fmt.Errorf("heraldd opens bolt:///absolute/path.db and memory: pools, not %q", u.Scheme)
	}, nil
}

// poolsFile is where --pools mode keeps the pools made over HTTP, beside
// the data file, so a restart adds them to the Service again.
func poolsFile(c *config) string { return c.data + ".pools.json" }

// loadPools reads the saved pools; a missing file means none.
func loadPools(path string) ([]httpapi.PoolConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []httpapi.PoolConfig
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ps, nil
}

// savePools writes the pools atomically: a temp file, fsynced, renamed
// over the old one, and the directory fsynced, so a crash leaves the old
// list or the new one.
func savePools(path string, ps []httpapi.PoolConfig) error {
	b, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// restorePools opens the saved pools and adds them to svc.
func restorePools(ctx context.Context, svc *herald.Service, open func(string, json.RawMessage) (store.Store, error), ps []httpapi.PoolConfig) error {
	for _, p := range ps {
		st, err := open(p.URI, p.Options)
		if err != nil {
			return fmt.Errorf("saved pool %q (%s): %w", p.Name, p.URI, err)
		}
		if err := svc.AddPool(ctx, herald.Pool{Name: p.Name, Store: st, Weight: p.Weight, FlavorOnly: p.Flavor != ""}); err != nil {
			return errors.Join(fmt.Errorf("saved pool %q: %w", p.Name, err), st.Close())
		}
	}
	return nil
}
