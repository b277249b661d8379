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
// again, with the first post's ID. It is not durable: an observer sees
// nothing posted while it is not registered, by another process or before
// a restart, and one that falls more than 1,024 messages behind misses the
// excess (logged). For delivery that survives crashes use a subscription
// (Queue.Subscribe) or page through the queue with List and a marker (M6).
// The Message has ID, Body, ClientID and Created set; a panic in fn is
// logged and the observer goes on. stop unregisters fn and returns once
// fn has returned for the last time; calling it from fn deadlocks.
// Service.Close stops every observer. A nil fn gives ErrInvalid; a closed
// Service, ErrClosed.
func (q *Queue) Observe(fn func(Message)) (stop func(), err error) {
	if fn == nil {
		return nil, store.Errorf(ErrInvalid, "observe %q: nil func", q.ref.Name)
	}
	if err := q.s.gate.enter(); err != nil {
		return nil, err
	}
	defer q.s.gate.leave()
	if err := q.ref.Check(); err != nil {
		return nil, err
	}
	return q.s.observers.add(q.ref, fn)
}

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

func newObservers(log *slog.Logger) *observers {
	return &observers{log: log, byRef: make(map[store.QueueRef][]*observer)}
}

func (os *observers) add(ref store.QueueRef, fn func(Message)) (func(), error) {
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
	return func() { os.remove(ref, o) }, nil
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
				o.dropped.Add(1)
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
