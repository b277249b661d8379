package bolt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// realStoreFile returns the bytes of a small real store: two queues, a
// few messages, a claim and a dedup entry; closed, and as a crash leaves
// it (read while open: bbolt's freelist unwritten, so Open walks the file).
func realStoreFile(tb testing.TB) (closed, crashed []byte) {
	path := filepath.Join(tb.TempDir(), "seed.db")
	s, err := Open(path, nil)
	require.NoError(tb, err)
	ctx := context.Background()
	q := store.QueueRef{Name: "q"}
	_, err = s.PostMessages(ctx, store.PostParams{Queue: q, Now: t0, Messages: []store.Draft{
		{Body: []byte("a")}, {Body: []byte("b"), DedupID: "d"}, {Body: []byte("c"), Delay: time.Minute},
	}})
	require.NoError(tb, err)
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "p", Name: "other"}, Metadata: []byte(`{"x":1}`), Now: t0})
	require.NoError(tb, err)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: t0})
	require.NoError(tb, err)
	crashed, err = os.ReadFile(path)
	require.NoError(tb, err)
	require.NoError(tb, s.Close())
	closed, err = os.ReadFile(path)
	require.NoError(tb, err)
	return closed, crashed
}

// D4, RELIABILITY §6: whatever bytes the file holds, Open returns within
// its timeout plus a little (never a hang: the bound here is 5 s), never
// panics, and either fails with ErrCorrupt or opens a store on which
// ListQueues, ListMessages and Verify return cleanly or with ErrCorrupt. A
// 0-byte file is documented to become an empty store.
func FuzzOpenBolt(f *testing.F) {
	real, crashed := realStoreFile(f)
	for _, file := range [][]byte{real, crashed} {
		f.Add(file)
		f.Add(file[:4096])
		f.Add(file[:len(file)/2])
		for _, off := range []int{0x10, 4096 + 0x10, 2 * 4096, 3*4096 + 20, len(file) - 100} {
			b := bytes.Clone(file)
			b[off] ^= 0xff
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("not a database"))
	f.Add(make([]byte, 8192))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		require.NoError(t, os.WriteFile(path, b, 0o600))
		type opened struct {
			s   *Store
			err error
		}
		done := make(chan opened, 1)
		go func() {
			s, err := Open(path, &Options{Timeout: 100 * time.Millisecond})
			done <- opened{s, err}
		}()
		var r opened
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Open of %d bytes did not return in 5 s", len(b))
		}
		if r.err != nil {
			require.ErrorIs(t, r.err, store.ErrCorrupt, "%d bytes", len(b))
			require.False(t, errors.Is(r.err, store.ErrLocked))
			return
		}
		s := r.s
		defer func() { // ErrCorrupt when a call hit damaged data (see Close)
			if err := s.Close(); err != nil {
				require.ErrorIs(t, err, store.ErrCorrupt)
			}
		}()
		ctx := context.Background()
		okOrCorrupt := func(err error, what string) {
			if err != nil {
				require.ErrorIs(t, err, store.ErrCorrupt, what)
			}
		}
		for _, p := range []string{"", "p"} {
			qs, err := s.ListQueues(ctx, store.ListQueuesParams{Project: p, Limit: 100, WithMetadata: true})
			okOrCorrupt(err, "ListQueues")
			for _, qi := range qs {
				_, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: store.QueueRef{Project: p, Name: qi.Name},
					Limit: 100, IncludeClaimed: true, IncludeDelayed: true, Now: t0})
				okOrCorrupt(err, "ListMessages")
			}
		}
		okOrCorrupt(s.Verify(ctx), "Verify")
		if len(b) == 0 {
			require.NoError(t, s.Verify(ctx), "a 0-byte file becomes an empty store")
		}
	})
}
