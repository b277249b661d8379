package memory

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
	"github.com/heraldmq/herald/store/storetest"
)

func newStore(testing.TB) store.Store { return New() }

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore, storetest.Options{Corrupt: corrupt})
}

// corrupt flips a bit of the stored body of message id so that its
// checksum no longer matches.
func corrupt(t *testing.T, s store.Store, q store.QueueRef, id store.ID) {
	t.Helper()
	ms := s.(*Store)
	qu, _, err := ms.lockAt(q, ms.seen.Load())
	require.NoError(t, err)
	require.NotNil(t, qu, "queue %v", q)
	defer qu.mu.Unlock()
	m := qu.findMsg(keyOf(id))
	require.NotNil(t, m, "message %s", id)
	if len(m.body) == 0 {
		m.body = []byte{0} // a checksum of nothing no longer matches
		return
	}
	m.body[0] ^= 1
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, newStore, storetest.BenchOptions{})
}
