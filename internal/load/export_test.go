package load

import (
	"context"
	"time"
)

// SetPause replaces the consumers' backoff wait until the test ends.
func SetPause(t interface{ Cleanup(func()) }, f func(ctx context.Context, d time.Duration) bool) {
	old := pause
	pause = f
	t.Cleanup(func() { pause = old })
}

// Summarize is summarize, for tests.
var Summarize = summarize
