package bolt

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// RELIABILITY §9: 1,000 open/close cycles return file descriptors and
// goroutines to their baseline; nothing leaks per open.
func TestOpenCloseCyclesLeakNothing(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skipf("counting file descriptors needs /proc/self/fd: %v", err)
	}
	cycles := 1000
	if testing.Short() {
		cycles = 100 // the race pass runs -short; each cycle is an open and a close
	}
	path := filepath.Join(t.TempDir(), "cycles.db")
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(entries)
	}
	baseFDs, baseG := fds(), runtime.NumGoroutine()
	q := store.QueueRef{Name: "q"}
	for i := range cycles {
		s, err := Open(path, nil)
		require.NoError(t, err, "cycle %d", i)
		if i%100 == 0 { // a write now and then, so commits are in the loop too
			post(t, s, q, t0, "x")
		}
		require.NoError(t, s.Close(), "cycle %d", i)
	}
	require.Equal(t, baseFDs, fds(), "file descriptors after %d cycles", cycles)
	// At most the baseline: goroutines an earlier test left finishing may
	// end meanwhile, but a leak would add at least one per cycle.
	require.LessOrEqual(t, runtime.NumGoroutine(), baseG, "goroutines after %d cycles", cycles)
}
