package herald_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// sweepRecorder wraps a store to see what the background sweeper does.
type sweepRecorder struct {
	store.Store
	mu     sync.Mutex
	calls  []store.SweepParams
	swept  int
	closed bool
}

func (r *sweepRecorder) Sweep(ctx context.Context, p store.SweepParams) (store.SweepResult, error) {
	res, err := r.Store.Sweep(ctx, p)
	r.mu.Lock()
	r.calls = append(r.calls, p)
	r.swept += res.Messages
	r.mu.Unlock()
	return res, err
}

func (r *sweepRecorder) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.Store.Close()
}

// B1: the background sweeper removes expired messages on its interval, in
// batches of at most SweepBatch. (B4, invisibility before any sweep, is a
// store rule proven by storetest.)
func TestSweeperRemovesExpiredInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &sweepRecorder{Store: newMemory()}
		svc, err := herald.New(herald.Options{Store: rec, SweepInterval: time.Minute, SweepBatch: 100})
		require.NoError(t, err)
		q := svc.Queue("jobs")
		drafts := make([]herald.Draft, 250)
		for i := range drafts {
			drafts[i] = herald.Draft{Body: []byte("x"), TTL: 30 * time.Second}
		}
		_, err = q.Post(t.Context(), drafts...)
		require.NoError(t, err)

		time.Sleep(time.Minute) // fake time: the messages expire, the sweeper ticks
		synctest.Wait()
		rec.mu.Lock()
		require.Equal(t, 250, rec.swept)
		require.Len(t, rec.calls, 3, "250 items in batches of 100")
		for _, c := range rec.calls {
			require.Equal(t, 100, c.Limit)
		}
		rec.mu.Unlock()

		require.NoError(t, svc.Close())
		require.True(t, rec.closed, "Close closes the store")
	})
}

// B3: no sweeper when SweepInterval is negative; Sweep still works by hand.
func TestSweepByHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &sweepRecorder{Store: newMemory()}
		svc, err := herald.New(herald.Options{Store: rec, SweepInterval: -1})
		require.NoError(t, err)
		defer svc.Close()
		_, err = svc.Queue("jobs").Post(t.Context(), herald.Draft{TTL: time.Second})
		require.NoError(t, err)
		time.Sleep(time.Hour)
		synctest.Wait()
		rec.mu.Lock()
		require.Empty(t, rec.calls)
		rec.mu.Unlock()
		res, err := svc.Sweep(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, res.Messages)
	})
}
