package bolt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

func TestRecRoundTrip(t *testing.T) {
	id := store.ID{1}
	r := rec{created: 1, expires: 2, visibleAt: 3, claim: store.ID{9}, claimExp: 4, claimCount: 5,
		sum: store.Checksum([]byte("body")), clientID: []byte("client"), body: []byte("body")}
	got, err := decodeRec(id, r.encode())
	require.NoError(t, err)
	require.Equal(t, r, got)
	m, err := got.message(id, 0)
	require.NoError(t, err)
	require.Equal(t, "body", string(m.Body))
	require.Equal(t, store.ID{9}, m.ClaimID)
}

// M11, D4: a garbled record gives ErrCorrupt, never a panic.
func FuzzDecodeRec(f *testing.F) {
	r := rec{sum: store.Checksum([]byte("b")), clientID: []byte("c"), body: []byte("b")}
	f.Add(r.encode())
	f.Add([]byte{})
	f.Add(make([]byte, recHeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRec(store.ID{}, b)
		if err != nil {
			require.ErrorIs(t, err, store.ErrCorrupt)
			return
		}
		if _, err := r.message(store.ID{}, 0); err != nil {
			require.ErrorIs(t, err, store.ErrCorrupt)
		}
		_, _ = decodeClaim(store.ID{}, b)
		_, _ = decodeCounts(b)
	})
}
