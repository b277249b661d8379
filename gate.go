package herald

import (
	"sync"
	"sync/atomic"
)

// gate tracks calls in flight so Close can refuse new ones and wait for the
// rest (B3). It costs one atomic add on entry and exit: no lock on the hot
// path.
type gate struct {
	active atomic.Int64
	closed atomic.Bool
	done   chan struct{} // closed by shut: wakes blocked claimers
	idle   chan struct{} // a leaver saw zero calls after shut began
	once   sync.Once
}

func newGate() *gate {
	return &gate{done: make(chan struct{}), idle: make(chan struct{}, 1)}
}

// enter admits a call, or returns ErrClosed once shut has begun.
func (g *gate) enter() error {
	g.active.Add(1)
	if g.closed.Load() {
		g.leave()
		return ErrClosed
	}
	return nil
}

func (g *gate) leave() {
	if g.active.Add(-1) == 0 && g.closed.Load() {
		select {
		case g.idle <- struct{}{}:
		default:
		}
	}
}

// shut refuses new calls, wakes blocked ones and waits for every call in
// flight to leave. It reports whether this call was the one that shut.
func (g *gate) shut() bool {
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
