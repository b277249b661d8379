package herald_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
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
	require.Equal(t, herald.MetadataTries, calls)
	got, err := q.Metadata(ctx)
	require.NoError(t, err)
	require.Equal(t, herald.Metadata{"other": float64(calls)}, got)
}

// Q3, C6, P5: with pools, an UpdateMetadata attempt whose write loses to
// another writer's creates no dead-letter queue: only the attempt that
// lands does, on the source's pool, and a call that gives up with
// ErrConflict creates none at all (bad input and failures never half-apply).
func TestUpdateMetadataCreatesOnlyTheWinningDeadLetterQueue(t *testing.T) {
	ctx := t.Context()
	a, b := memory.New(), memory.New()
	svc := newPooled(t, []herald.Pool{{Name: "a", Store: a, Weight: 1}, {Name: "b", Store: b, Weight: 0}})
	src := svc.Queue("src")
	_, err := src.Create(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, "a", poolOf(t, src))
	// A new queue would go to b now; a dead-letter queue of src must not.
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 0))
	require.NoError(t, svc.SetPoolWeight(ctx, "b", 1))

	// update's fn names a new dead-letter queue, prefix<n>, on its nth
	// call; during its first lose calls another writer changes the
	// metadata between the read and the write, so those attempts conflict.
	update := func(prefix string, lose int) (int, error) {
		calls := 0
		err := src.UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) {
			calls++
			if calls <= lose {
				require.NoError(t, src.SetMetadata(ctx, herald.Metadata{"other": calls}))
			}
			return m.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: fmt.Sprintf("%s%d", prefix, calls)}), nil
		})
		return calls, err
	}
	inStore := func(st store.Store) []string {
		t.Helper()
		qs, err := st.ListQueues(ctx, store.ListQueuesParams{Limit: 100})
		require.NoError(t, err)
		var names []string
		for _, q := range qs {
			names = append(names, q.Name)
		}
		return names
	}
	requireNowhere := func(prefix string, calls int) {
		t.Helper()
		for n := 1; n <= calls; n++ {
			_, err := svc.Queue(fmt.Sprintf("%s%d", prefix, n)).Pool(ctx)
			require.ErrorIs(t, err, herald.ErrNotFound, "%s%d is in the catalog", prefix, n)
		}
	}

	calls, err := update("won", 3)
	require.NoError(t, err)
	require.Equal(t, 4, calls)
	o, err := src.Options(ctx)
	require.NoError(t, err)
	require.Equal(t, "won4", o.DeadLetterQueue)
	require.Equal(t, "a", poolOf(t, svc.Queue("won4")))
	requireNowhere("won", 3)
	require.Equal(t, []string{"src", "won4"}, inStore(a))
	require.Empty(t, inStore(b))

	calls, err = update("lost", herald.MetadataTries)
	require.ErrorIs(t, err, herald.ErrConflict)
	require.Equal(t, herald.MetadataTries, calls)
	requireNowhere("lost", calls)
	require.Equal(t, []string{"src", "won4"}, inStore(a), "a failed UpdateMetadata creates no queue")
	require.Empty(t, inStore(b))
}
