package gate

import (
	"sync"
	"sync/atomic"

	"github.com/heraldmq/herald/store"
)

// Gate tracks calls in flight so Close can refuse new ones and wait for the
// rest (B3). It costs one atomic add on entry and exit: no lock on the hot
// path.
type Gate struct {
	active atomic.Int64
	closed atomic.Bool
	done   chan struct{} // closed by shut: wakes blocked claimers
	idle   chan struct{} // a leaver saw zero calls after shut began
	once   sync.Once
}

// New returns an open gate.
func New() *Gate {
	return &Gate{done: make(chan struct{}), idle: make(chan struct{}, 1)}
}

// Enter admits a call, or returns ErrClosed once shut has begun.
func (g *Gate) Enter() error {
	g.active.Add(1)
	if g.closed.Load() {
		g.Leave()
		return store.ErrClosed
	}
	return nil
}

// Leave ends a call Enter admitted.
func (g *Gate) Leave() {
	if g.active.Add(-1) == 0 && g.closed.Load() {
		select {
		case g.idle <- struct{}{}:
		default:
		}
	}
}

// Shut refuses new calls, wakes blocked ones and waits for every call in
// flight to leave. It reports whether this call was the one that shut.
func (g *Gate) Shut() bool {
	first := false
	g.once.Do(func() {
		first = true
		g.closed.Store(true)
		close(g.done)
		for g.active.Load() != 0 {
			<-g.idle
		}
	})
	return first
}

// Done is closed once Shut has begun: blocked calls wait on it.
func (g *Gate) Done() <-chan struct{} { return g.done }
