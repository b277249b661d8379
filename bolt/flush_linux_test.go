package bolt

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkFlush is the disk's floor under BareCommit: one page rewritten
// in place and fdatasynced, outside bbolt. A bbolt commit makes two of
// these in a row (its pages, then its meta page).
func BenchmarkFlush(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "flush"))
	require.NoError(b, err)
	defer f.Close()
	page := make([]byte, 4096)
	_, err = f.Write(page)
	require.NoError(b, err)
	require.NoError(b, f.Sync())
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := f.WriteAt(page, 0); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "p50-ms")
}
