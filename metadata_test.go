package herald_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// Q3: concurrent read-modify-writes of one queue's metadata lose nothing.
// Every writer reads the same metadata before any writes (fn waits for
// all of them on its first call), so all but one must find their read
// stale and try again; a write that did not check would drop keys.
func TestUpdateMetadataConcurrentKeepsEveryKey(t *testing.T) {
	const writers = 8
	for _, ts := range timeStores {
		t.Run(ts.name, func(t *testing.T) {
			ctx := t.Context()
			svc, err := herald.New(herald.Options{Store: ts.open(t), SweepInterval: -1})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, svc.Close()) })
			q := svc.Queue("q")
			_, err = q.Create(ctx, herald.Metadata{"start": true})
			require.NoError(t, err)

			var read sync.WaitGroup
			read.Add(writers)
			allRead := make(chan struct{})
			go func() { read.Wait(); close(allRead) }()
			var calls atomic.Int64
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				first := true
				wg.Go(func() {
					errs[w] = q.UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) {
						calls.Add(1)
						if first {
							first = false
							read.Done()
							<-allRead
						}
						m[fmt.Sprintf("k%d", w)] = w
						return m, nil
					})
				})
			}
			wg.Wait()

			want := herald.Metadata{"start": true}
			for w, err := range errs {
				require.NoError(t, err, "writer %d", w)
				want[fmt.Sprintf("k%d", w)] = float64(w)
			}
			got, err := q.Metadata(ctx)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.GreaterOrEqual(t, calls.Load(), int64(2*writers-1), "every writer but one read again")
		})
	}
}

// Q3: UpdateMetadata checks what fn returns as SetMetadata does, returns
// fn's own error as it is, and writes nothing when either fails.
func TestUpdateMetadataRefusesAndChangesNothing(t *testing.T) {
	ctx := t.Context()
	q := newService(t).Queue("q")
	_, err := q.Create(ctx, herald.Metadata{"keep": "me"})
	require.NoError(t, err)

	errMine := errors.New("mine")
	for _, c := range []struct {
		name string
		fn   func(herald.Metadata) (herald.Metadata, error)
		want error
	}{
		{"fn fails", func(m herald.Metadata) (herald.Metadata, error) {
			m["half"] = "done"
			return m, errMine
		}, errMine},
		{"bad reserved key", func(m herald.Metadata) (herald.Metadata, error) {
			m["_default_message_ttl"] = "60"
			return m, nil
		}, herald.ErrInvalidMetadata},
		{"own dead-letter queue", func(m herald.Metadata) (herald.Metadata, error) {
			return m.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: "q"}), nil
		}, herald.ErrInvalidMetadata},
		{"not JSON", func(m herald.Metadata) (herald.Metadata, error) {
			m["f"] = func() {}
			return m, nil
		}, herald.ErrInvalidMetadata},
	} {
		require.ErrorIs(t, q.UpdateMetadata(ctx, c.fn), c.want, c.name)
		got, err := q.Metadata(ctx)
		require.NoError(t, err)
		require.Equal(t, herald.Metadata{"keep": "me"}, got, c.name)
	}

	called := false
	err = q.Service().Queue("missing").UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) {
		called = true
		return m, nil
	})
	require.ErrorIs(t, err, herald.ErrNotFound)
	require.False(t, called, "fn runs only on metadata that exists")
}

// Q3: a writer that always finds its read stale gives up after a bounded
// number of attempts with ErrConflict, having written nothing of its own.
func TestUpdateMetadataGivesUpUnderEndlessConflict(t *testing.T) {
	ctx := t.Context()
	q := newService(t).Queue("q")
	_, err := q.Create(ctx, nil)
	require.NoError(t, err)

	calls := 0
	err = q.UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) {
		calls++
		// Another writer lands between this read and its write.
		require.NoError(t, q.SetMetadata(ctx, herald.Metadata{"other": calls}))
		m["mine"] = true
		return m, nil
	})
	require.ErrorIs(t, err, herald.ErrConflict)
	require.Equal(t, 16, calls)
	got, err := q.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, herald.Metadata{"other": float64(calls)}, got)
}
