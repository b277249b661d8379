package herald

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald/store"
)

// observerBuffer is how far an observer may fall behind before messages
// are dropped for it.
const observerBuffer = 1024

// Observe calls fn with every message posted to the queue through this
// Service from now on, in post order, on a goroutine of its own: in-process
// fan-out to any number of independent observers. It is not durable: an
// observer sees nothing posted while it is not registered, by another
// process or before a restart, and one that falls more than 1,024 messages
// behind misses the excess (logged). For delivery that survives crashes
// use a subscription (Queue.Subscribe) or page through the queue with
// List and a marker (M6). The Message has ID, Body, ClientID and Created
// set. stop unregisters fn and returns once fn has returned for the last
// time; calling it from fn deadlocks. Service.Close stops every observer.
func (q *Queue) Observe(fn func(Message)) (stop func()) {
	return q.s.observers.add(q.ref, fn)
}

// observers fans posts out to in-process observers.
type observers struct {
	log   *slog.Logger
	count atomic.Int64 // observers anywhere: posts skip the lock when 0
	mu    sync.RWMutex
	byRef map[store.QueueRef][]*observer
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

func (os *observers) add(ref store.QueueRef, fn func(Message)) func() {
	o := &observer{ch: make(chan Message, observerBuffer), done: make(chan struct{})}
	os.mu.Lock()
	os.byRef[ref] = append(os.byRef[ref], o)
	os.count.Add(1)
	os.mu.Unlock()
	go func() {
		defer close(o.done)
		for m := range o.ch {
			fn(m)
		}
	}()
	return func() { os.remove(ref, o) }
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
