package httpapi_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/internal/load"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// BenchmarkHTTPPipeline is issue #8's load shape over loopback HTTP: 4
// producers posting 256-byte messages (one per POST, or ten) and 4
// consumers claiming 10 and deleting each batch with one bulk DELETE,
// against the API on a bolt store (every acknowledged write fsynced).
// msgs/s is end to end. The memory store runs the same requests with no
// disk at all: the ceiling the HTTP work alone leaves on this machine.
func BenchmarkHTTPPipeline(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"bolt", func(b *testing.B) store.Store {
			st, err := bolt.Open(filepath.Join(b.TempDir(), "load.db"), nil)
			require.NoError(b, err)
			return st
		}},
		{"memory", func(*testing.B) store.Store { return memory.New() }},
	}
	for _, s := range stores {
		for _, postBatch := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/post=%d", s.name, postBatch), func(b *testing.B) {
				svc, err := herald.New(herald.Options{Store: s.open(b)})
				require.NoError(b, err)
				defer svc.Close()
				srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{}))
				defer srv.Close()
				b.ResetTimer()
				r, err := load.Run(b.Context(), load.Options{URL: srv.URL, Messages: 2000 * b.N, PostBatch: postBatch})
				require.NoError(b, err)
				b.ReportMetric(r.Rate(), "msgs/s")
				b.ReportMetric(float64(r.EmptyClaims)/float64(r.Claims), "empty-claims")
			})
		}
	}
}
