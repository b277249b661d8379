package herald

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// Sweep removes every expired message, claim record and dedup entry now, in
// steps of at most Options.SweepBatch items (B1), and returns what it
// removed. The background sweeper calls it; tests and tools may too.
func (s *Service) Sweep(ctx context.Context) (store.SweepResult, error) {
	if err := s.gate.enter(); err != nil {
		return store.SweepResult{}, err
	}
	defer s.gate.leave()
	var total store.SweepResult
	for {
		r, err := s.store.Sweep(ctx, store.SweepParams{Now: s.now(), Limit: s.batch})
		total.Messages += r.Messages
		total.Claims += r.Claims
		total.Dedup += r.Dedup
		if err != nil || !r.More {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			total.More = true
			return total, err
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
