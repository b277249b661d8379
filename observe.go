package herald

import (
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald/store"
)

// observerBuffer is how far an observer may fall behind before messages
// are dropped for it.
const observerBuffer = 1024

// Observe calls fn with every message posted to the queue through this
// Service from now on, on a goroutine of its own: in-process fan-out to
// any number of independent observers. Each observer sees posts in the
// order they completed, which for concurrent posts may differ from ID
// order; a post with a DedupID that repeats an earlier one (M10) is seen
// again, with the first post's ID. The Message has ID, Body, ClientID and
// Created set; a panic in fn is logged and the observer goes on.
//
// Observe is neither durable nor lossless. An observer sees nothing
// posted while it is not registered, by another process or before a
// restart, and it drops messages when it falls behind (below). For
// fan-out that loses nothing, give each reader its own marker and page
// through the queue with List (M6), or use a subscription
// (Queue.Subscribe).
//
// Drop policy: between the posts and fn each observer has a buffer of
// 1,024 messages, and a post never waits for an observer. A message that
// arrives while its observer's buffer is full is dropped for that
// observer alone: the newest is dropped, what is buffered is kept, other
// observers and the post are unaffected. Observation.Dropped counts the
// drops as they happen; the first is logged at once and the total when
// the observation stops. Every message posted while the observation is
// registered is either passed to fn or counted by Dropped, exactly once.
//
// Service.Close stops every observer. A nil fn gives ErrInvalid; a closed
// Service, ErrClosed.
func (q *Queue) Observe(fn func(Message)) (*Observation, error) {
	if fn == nil {
		return nil, store.Errorf(ErrInvalid, "observe %q: nil func", q.ref.Name)
	}
	if err := q.s.gate.Enter(); err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if err := q.ref.Check(); err != nil {
		return nil, err
	}
	return q.s.observers.add(q.ref, fn)
}

// Observation is an observer registered by Queue.Observe.
type Observation struct {
	os  *observers
	ref store.QueueRef
	o   *observer
}

// Stop unregisters the observer and returns once fn has returned for the
// last time; calling it from fn deadlocks. Later calls return at once.
func (ob *Observation) Stop() { ob.os.remove(ob.ref, ob.o) }

// Dropped reports how many messages the observer has dropped so far
// because it was more than 1,024 messages behind (see Queue.Observe).
func (ob *Observation) Dropped() int64 { return ob.o.dropped.Load() }

// observers fans posts out to in-process observers.
type observers struct {
	log    *slog.Logger
	count  atomic.Int64 // observers anywhere: posts skip the lock when 0
	mu     sync.RWMutex
	byRef  map[store.QueueRef][]*observer
	closed bool
}

type observer struct {
	ch      chan Message
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
}

// drop counts a message the observer had no room for; the first drop is
// logged at once, so falling behind shows while it happens.
func (os *observers) drop(ref store.QueueRef, o *observer) {
	if o.dropped.Add(1) == 1 {
		os.log.Warn("herald: observer fell behind; dropping messages until it catches up (see Observation.Dropped)", "queue", ref.Name)
	}
}

func newObservers(log *slog.Logger) *observers {
	return &observers{log: log, byRef: make(map[store.QueueRef][]*observer)}
}

func (os *observers) add(ref store.QueueRef, fn func(Message)) (*Observation, error) {
	o := &observer{ch: make(chan Message, observerBuffer), done: make(chan struct{})}
	os.mu.Lock()
	if os.closed {
		os.mu.Unlock()
		return nil, ErrClosed
	}
	os.byRef[ref] = append(os.byRef[ref], o)
	os.count.Add(1)
	os.mu.Unlock()
	go func() {
		defer close(o.done)
		for m := range o.ch {
			os.call(ref, fn, m)
		}
	}()
	return &Observation{os: os, ref: ref, o: o}, nil
}

// call runs fn, logging a panic instead of crashing the process.
func (os *observers) call(ref store.QueueRef, fn func(Message), m Message) {
	defer func() {
		if v := recover(); v != nil {
			os.log.Error("herald: observer panicked", "queue", ref.Name, "message", m.ID, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn(m)
}

func (os *observers) remove(ref store.QueueRef, o *observer) {
	o.once.Do(func() {
		os.mu.Lock()
		list := os.byRef[ref]
		for i, x := range list {
			if x == o {
				os.byRef[ref] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(os.byRef[ref]) == 0 {
			delete(os.byRef, ref)
		}
		os.count.Add(-1)
		close(o.ch) // under the lock: no post is sending to it
		os.mu.Unlock()
		if n := o.dropped.Load(); n > 0 {
			os.log.Warn("herald: observer fell behind; messages dropped", "queue", ref.Name, "dropped", n)
		}
	})
	<-o.done
}

// posted hands a post's messages to the queue's observers without ever
// blocking the post.
func (os *observers) posted(ref store.QueueRef, clientID string, drafts []Draft, ids []ID, now time.Time) {
	if os.count.Load() == 0 {
		return
	}
	os.mu.RLock()
	defer os.mu.RUnlock()
	list := os.byRef[ref]
	if len(list) == 0 {
		return
	}
	for i, d := range drafts {
		for _, o := range list {
			m := Message{ID: ids[i], Body: append([]byte(nil), d.Body...), ClientID: clientID, Created: now}
			select {
			case o.ch <- m:
			default:
				os.drop(ref, o)
			}
		}
	}
}

// close stops every observer.
func (os *observers) close() {
	os.mu.Lock()
	os.closed = true
	os.mu.Unlock()
	os.mu.RLock()
	var all []func()
	for ref, list := range os.byRef {
		for _, o := range list {
			all = append(all, func() { os.remove(ref, o) })
		}
	}
	os.mu.RUnlock()
	for _, stop := range all {
		stop()
	}
}
