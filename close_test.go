package herald_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// B3: Close is idempotent and every call afterwards returns ErrClosed.
func TestCloseThenEveryCallIsErrClosed(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: newMemory()})
	require.NoError(t, err)
	q := svc.Queue("jobs")
	post(t, q, "a")
	c, err := q.Claim(context.Background(), herald.ClaimOptions{})
	require.NoError(t, err)
	require.NoError(t, svc.Close())
	require.NoError(t, svc.Close())

	ctx := context.Background()
	for name, call := range everyCall(q, c) {
		require.ErrorIs(t, call(ctx), herald.ErrClosed, name)
	}
	_, err = svc.Sweep(ctx)
	require.ErrorIs(t, err, herald.ErrClosed)
}

// everyCall names one call of each kind on q and c, for tables that must
// hold across the whole API.
func everyCall(q *herald.Queue, c *herald.Claim) map[string]func(context.Context) error {
	id := herald.ID{1}
	if len(c.Messages) > 0 {
		id = c.Messages[0].ID
	}
	ignore := func(_ any, err error) error { return err }
	return map[string]func(context.Context) error{
		"Create":      func(ctx context.Context) error { return ignore(q.Create(ctx, nil)) },
		"Metadata":    func(ctx context.Context) error { return ignore(q.Metadata(ctx)) },
		"Options":     func(ctx context.Context) error { return ignore(q.Options(ctx)) },
		"SetMetadata": func(ctx context.Context) error { return q.SetMetadata(ctx, nil) },
		"UpdateMetadata": func(ctx context.Context) error {
			return q.UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) { return m, nil })
		},
		"Stats":       func(ctx context.Context) error { return ignore(q.Stats(ctx)) },
		"Purge":       func(ctx context.Context) error { return q.Purge(ctx) },
		"DeleteQueue": func(ctx context.Context) error { return q.DeleteQueue(ctx) },
		"Post":        func(ctx context.Context) error { return ignore(q.Post(ctx, herald.Draft{Body: []byte("x")})) },
		"List":        func(ctx context.Context) error { return ignore(q.List(ctx, herald.ListOptions{})) },
		"Get":         func(ctx context.Context) error { return ignore(q.Get(ctx, id)) },
		"GetMany":     func(ctx context.Context) error { return ignore(q.GetMany(ctx, id)) },
		"Delete":      func(ctx context.Context) error { return q.Delete(ctx, id) },
		"Pop":         func(ctx context.Context) error { return ignore(q.Pop(ctx, 1)) },
		"Claim":       func(ctx context.Context) error { return ignore(q.Claim(ctx, herald.ClaimOptions{})) },
		"GetClaim":    func(ctx context.Context) error { return ignore(q.GetClaim(ctx, c.ID)) },
		"Renew":       func(ctx context.Context) error { return c.Renew(ctx, 0) },
		"Release":     func(ctx context.Context) error { return c.Release(ctx, 0) },
		"ClaimDelete": func(ctx context.Context) error { return c.Delete(ctx, id) },
		"DeleteAndClaim": func(ctx context.Context) error {
			return ignore(c.DeleteAndClaim(ctx, herald.ClaimOptions{}, id))
		},
		"ListQueues": func(ctx context.Context) error {
			return ignore(q.Service().Project(q.Project()).ListQueues(ctx, herald.ListQueuesOptions{}))
		},
	}
}

// B3: Close during calls: every call either completes or returns
// ErrClosed, nothing panics, and Close returns only after calls in flight.
func TestCloseDuringCalls(t *testing.T) {
	svc, err := herald.New(herald.Options{Store: newMemory()})
	require.NoError(t, err)
	q := svc.Queue("jobs")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 4 {
		wg.Go(func() {
			for {
				_, err := q.Post(ctx, herald.Draft{Body: []byte("x")})
				if err == nil {
					c, cerr := q.Claim(ctx, herald.ClaimOptions{})
					if cerr == nil && len(c.Messages) > 0 {
						cerr = c.Delete(ctx, c.Messages[0].ID)
					}
					err = cerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	post(t, q, "warm-up") // the workers are running
	require.NoError(t, svc.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, herald.ErrClosed)
	}
}
