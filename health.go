package herald

import (
	"sync"
	"time"

	"github.com/heraldmq/herald/store"
)

// Health is what the Service knows of its stores' writes (§4).
type Health struct {
	// Err is nil while every store takes writes. Otherwise it is the
	// error of the last write of a store whose writes have failed since
	// its last successful write; it matches ErrUnavailable and wraps the
	// cause (syscall.ENOSPC for a full disk, …), and
	// store.UnavailableReason names its kind.
	Err error
	// Pool names the pool of that store ("default" without pools).
	Pool string
	// Since is when that store's writes began to fail.
	Since time.Time
}

// Health reports whether the stores take writes: a store whose last write
// failed with ErrUnavailable (a full disk, a read-only or failing device)
// is unhealthy until one of its writes succeeds again. The background
// sweep writes every SweepInterval, so a store recovers without client
// traffic once its storage does. Reads may still work meanwhile. It costs
// no I/O. Stores that cannot tell (store.WriteWatcher; the memory store,
// which never fails a write) always look healthy.
func (s *Service) Health() Health {
	for _, p := range s.router.snapshot() {
		p.writes.mu.Lock()
		h := Health{Err: p.writes.err, Pool: p.name, Since: p.writes.since}
		p.writes.mu.Unlock()
		if h.Err != nil {
			return h
		}
	}
	return Health{}
}

// writeState is one store's last write outcome.
type writeState struct {
	mu    sync.Mutex
	err   error
	since time.Time
}

// watchStore hooks the Service to what the store of pool p reports:
// damaged messages set aside and the outcome of its writes.
func (s *Service) watchStore(p *pool) {
	s.watchDamage(p)
	if ww, ok := p.store.(store.WriteWatcher); ok {
		ww.OnWrite(func(err error) {
			p.writes.mu.Lock()
			defer p.writes.mu.Unlock()
			switch {
			case err == nil:
				if p.writes.err != nil {
					s.log.Info("herald: store writes again", "pool", p.name, "failed_since", p.writes.since)
				}
				p.writes.err = nil
			case p.writes.err == nil:
				p.writes.err, p.writes.since = err, s.now()
				s.log.Error("herald: store cannot write", "pool", p.name, "reason", store.UnavailableReason(err), "err", err)
			default:
				p.writes.err = err
			}
		})
	}
}
