package bolt

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// envSize returns HERALD_BENCH_BACKLOG, or def when it is not set.
func envSize(tb testing.TB, def int) int {
	env := os.Getenv("HERALD_BENCH_BACKLOG")
	if env == "" {
		return def
	}
	v, err := strconv.Atoi(env)
	if err != nil || v < 1 {
		tb.Fatalf("HERALD_BENCH_BACKLOG=%q: want a positive whole number", env)
	}
	return v
}
