package herald

import (
	"context"
	"errors"
	"time"

	"github.com/heraldmq/herald/store"
)

// Sweep removes every expired message, claim record and dedup entry now, in
// steps of at most Options.SweepBatch items (B1), and returns what it
// removed. It sweeps each pool's store in turn. The background sweeper
// calls it; tests and tools may too.
func (s *Service) Sweep(ctx context.Context) (store.SweepResult, error) {
	if err := s.gate.Enter(); err != nil {
		return store.SweepResult{}, err
	}
	defer s.gate.Leave()
	var total store.SweepResult
	var errs []error
	for _, p := range s.router.snapshot() {
		err := s.sweep(ctx, p.store, &total)
		switch {
		case err == nil:
		case s.router.cat == nil:
			return total, err // one store: its error as it is
		case errors.Is(err, ErrClosed) && !s.router.has(p):
			// removed while being swept
		case ctx.Err() != nil:
			return total, err
		default: // one broken pool does not keep the others unswept
			errs = append(errs, store.Wrapf(err, "sweep pool %q", p.name))
		}
	}
	return total, errors.Join(errs...)
}

// sweep sweeps one store until it has nothing more due, adding to total.
func (s *Service) sweep(ctx context.Context, st store.Store, total *store.SweepResult) error {
	for {
		r, err := st.Sweep(ctx, store.SweepParams{Now: s.now(), Limit: s.batch})
		total.Messages += r.Messages
		total.Claims += r.Claims
		total.Dedup += r.Dedup
		if err != nil || !r.More {
			return err
		}
		if err := ctx.Err(); err != nil {
			total.More = true
			return err
		}
	}
}

func (s *Service) sweepEvery(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("herald: sweep failed", "err", err)
			}
		}
	}
}
