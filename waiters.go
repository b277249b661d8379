package herald

import (
	"sync"
	"sync/atomic"

	"github.com/heraldmq/herald/store"
)

// waiters lets blocked claimers sleep until their queue may have something
// for them (C7). A claimer takes the queue's current channel before it tries
// the store; anything that may free a message closes that channel and puts a
// fresh one in its place. Taking the channel first means a wake-up between
// the try and the sleep is never missed.
type waiters struct {
	count atomic.Int64 // claimers blocked anywhere: skips the lock when 0
	mu    sync.Mutex
	byRef map[store.QueueRef]*waitSlot
}

type waitSlot struct {
	ch       chan struct{}
	sleepers int
}

func newWaiters() *waiters {
	return &waiters{byRef: make(map[store.QueueRef]*waitSlot)}
}

// join registers a sleeper on ref; leave undoes it.
func (w *waiters) join(ref store.QueueRef) {
	w.count.Add(1)
	w.mu.Lock()
	slot := w.byRef[ref]
	if slot == nil {
		slot = &waitSlot{ch: make(chan struct{})}
		w.byRef[ref] = slot
	}
	slot.sleepers++
	w.mu.Unlock()
}

func (w *waiters) leave(ref store.QueueRef) {
	w.mu.Lock()
	if slot := w.byRef[ref]; slot != nil {
		if slot.sleepers--; slot.sleepers == 0 {
			delete(w.byRef, ref)
		}
	}
	w.mu.Unlock()
	w.count.Add(-1)
}

// channel returns the channel that the next wake of ref closes. The caller
// must have joined ref.
func (w *waiters) channel(ref store.QueueRef) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byRef[ref].ch
}

// has reports whether anyone sleeps on ref.
func (w *waiters) has(ref store.QueueRef) bool {
	if w.count.Load() == 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byRef[ref] != nil
}

// wake wakes every sleeper on ref.
func (w *waiters) wake(ref store.QueueRef) {
	if w.count.Load() == 0 {
		return
	}
	w.mu.Lock()
	if slot := w.byRef[ref]; slot != nil {
		close(slot.ch)
		slot.ch = make(chan struct{})
	}
	w.mu.Unlock()
}
