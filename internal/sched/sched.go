package sched

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/heraldmq/herald/store"
)

// Scheduler wakes a queue's blocked claimers when a claim expires or a delay
// ends (B2). It is one timer re-armed to the earliest pending deadline; it
// never polls. Each queue keeps only its earliest deadline: a woken claimer
// tries again and learns the next one from the store (NextReady).
type Scheduler struct {
	now  func() time.Time
	fire func(store.QueueRef)

	mu      sync.Mutex
	pending map[store.QueueRef]time.Time
	order   deadlines
	rearm   chan struct{}
}

// New returns a scheduler that reads the clock with now and calls fire
// for each queue whose deadline has come.
func New(now func() time.Time, fire func(store.QueueRef)) *Scheduler {
	return &Scheduler{
		now:     now,
		fire:    fire,
		pending: make(map[store.QueueRef]time.Time),
		rearm:   make(chan struct{}, 1),
	}
}

// At asks for ref to be woken at t.
func (s *Scheduler) At(ref store.QueueRef, t time.Time) {
	s.mu.Lock()
	if old, ok := s.pending[ref]; ok && !t.Before(old) {
		s.mu.Unlock()
		return
	}
	s.pending[ref] = t
	heap.Push(&s.order, deadline{t, ref})
	first := s.order[0].t.Equal(t)
	s.mu.Unlock()
	if first {
		select {
		case s.rearm <- struct{}{}:
		default:
		}
	}
}

// Run fires deadlines as they come due until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(s.fireDue())
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.rearm:
		}
	}
}

// fireDue fires every due deadline and returns how long to sleep until the
// next one.
func (s *Scheduler) fireDue() time.Duration {
	var due []store.QueueRef
	s.mu.Lock()
	now := s.now()
	wait := time.Hour
	for len(s.order) > 0 {
		d := s.order[0]
		if d.t.After(now) {
			wait = d.t.Sub(now)
			break
		}
		heap.Pop(&s.order)
		if t, ok := s.pending[d.ref]; ok && t.Equal(d.t) { // else superseded
			delete(s.pending, d.ref)
			due = append(due, d.ref)
		}
	}
	s.mu.Unlock()
	for _, ref := range due {
		s.fire(ref)
	}
	return wait
}

type deadline struct {
	t   time.Time
	ref store.QueueRef
}

type deadlines []deadline

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].t.Before(d[j].t) }
func (d deadlines) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *deadlines) Push(x any)        { *d = append(*d, x.(deadline)) }
func (d *deadlines) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}
