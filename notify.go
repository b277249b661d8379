package herald

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald/internal/netguard"
	"github.com/heraldmq/herald/store"
)

// NotifyOptions configure push delivery to subscriptions (S2–S5). The zero
// value delivers webhooks to any address with 16 deliveries in flight, at
// most 2 per subscriber, 10 s per attempt.
type NotifyOptions struct {
	// Concurrency bounds the deliveries in flight. Zero means 16.
	Concurrency int
	// PerSubscriber bounds the deliveries in flight to one subscriber, so
	// that a slow or dead one never holds up the others. Zero means 2.
	PerSubscriber int
	// Timeout bounds one attempt. Zero means 10 s. A delivery that was in
	// flight when its process died is sent again 3 × Timeout later.
	Timeout time.Duration
	// DenyPrivateTargets refuses webhooks to loopback, private, link-local
	// and other non-public addresses. A URL whose host is such an address
	// (in any form the client would dial: IPv6, IPv4-mapped, decimal,
	// octal or hex IPv4, Unicode digits) is refused by Subscribe and
	// UpdateSubscription with ErrDeniedTarget; a host name is checked on
	// the address actually dialled (so DNS cannot smuggle one in), and a
	// delivery refused there fails for good. Set it when subscriber URLs
	// come from untrusted users.
	DenyPrivateTargets bool
	// Client sends webhooks. Nil means a client that follows no redirects
	// and applies DenyPrivateTargets. A custom client does its own checks:
	// setting it with DenyPrivateTargets gives ErrInvalid.
	Client *http.Client
	// RequireConfirmation makes new subscriptions start unconfirmed and
	// get a confirmation request; nothing else is delivered to them until
	// Queue.ConfirmSubscription confirms them (S5).
	RequireConfirmation bool
	// SMTP sends mailto: deliveries. Without SMTP.Addr they fail for good.
	SMTP SMTPOptions
}

// notifier owns the dispatcher: it leases due deliveries from each pool,
// sends them with bounded concurrency and settles each outcome (S2, S3).
// Posting never waits for it: a post only kicks it.
type notifier struct {
	s   *Service
	ctx context.Context // ends when the Service closes
	o   NotifyOptions
	log *slog.Logger

	wake chan struct{} // kicks: a post, a retry, a freed slot
	// active is set once the store may have a subscription; until then a
	// post does not kick.
	active atomic.Bool

	mu   sync.Mutex
	held map[ID]bool // leased and not yet settled
	// from is where the next lease starts its turn over projects (L3):
	// just after the last project the previous one took from.
	from string
	// queues are the deliveries waiting for a slot, per project and
	// subscriber. Slots go round robin over projects (projects), and
	// within a project round robin over its subscribers (lanes), so a
	// project with a large fan-out gets one turn in each round like any
	// other, however many subscribers it has.
	queues   map[lane][]outgoing
	projects []string          // projects with waiting deliveries, in turn
	lanes    map[string][]lane // per project: lanes with waiting deliveries, in turn
	inflight map[string]int    // per subscriber
	running  int
	sends    sync.WaitGroup // deliveries in flight; run waits for them
	// confirms are confirmation requests in flight. Subscribe adds to it,
	// so only Close waits for it, once no call can run.
	confirms sync.WaitGroup
}

// leaseTimeouts is how many attempt timeouts a leased delivery stays
// invisible to the next lease: one not settled by then (its process died)
// is handed out again. One waiting in memory for a slot past its lease is
// leased again and kept once.
const leaseTimeouts = 3

// maxHeld bounds the deliveries the dispatcher holds in memory at once;
// one subscriber may hold half of them.
const maxHeld = 1024

// leaseShares is how many projects share one lease at least: a lease
// takes at most a quarter of its room from any one project, in turn
// (store.LeaseDeliveriesParams.PerProject), so one project's backlog
// never hides another's due deliveries, and leaves room for three more.
const leaseShares = 4

// lane is one project's deliveries to one subscriber.
type lane struct{ project, subscriber string }

func newNotifier(ctx context.Context, s *Service, o NotifyOptions) *notifier {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.PerSubscriber <= 0 {
		o.PerSubscriber = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = netguard.Client(o.DenyPrivateTargets)
	}
	n := &notifier{
		s: s, ctx: ctx, o: o, log: s.log,
		wake:     make(chan struct{}, 1),
		held:     make(map[ID]bool),
		queues:   make(map[lane][]outgoing),
		lanes:    make(map[string][]lane),
		inflight: make(map[string]int),
	}
	return n
}

// outgoing is a leased delivery and the store it came from.
type outgoing struct {
	st store.Subscriber
	d  store.Delivery
}

// stores returns the pools' stores that keep subscriptions, each once.
func (n *notifier) stores() []store.Subscriber {
	var out []store.Subscriber
	seen := make(map[store.Store]bool)
	for _, p := range n.s.router.snapshot() {
		if sub, ok := p.store.(store.Subscriber); ok && !seen[p.store] {
			seen[p.store] = true
			out = append(out, sub)
		}
	}
	return out
}

// kick wakes the dispatcher; kicks while it is busy coalesce.
func (n *notifier) kick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// posted is called after every successful post.
func (n *notifier) posted() {
	if n.active.Load() {
		n.kick()
	}
}

// subscribed marks the dispatcher active: a subscription exists.
func (n *notifier) subscribed() {
	n.active.Store(true)
	n.kick()
}

// adopt starts delivering from st if it keeps subscriptions: at start,
// or when a pool joins.
func (n *notifier) adopt(ctx context.Context, st store.Store) {
	if sub, ok := st.(store.Subscriber); ok {
		if has, err := sub.HasSubscriptions(ctx, n.s.now()); err == nil && has {
			n.subscribed()
		}
	}
}

// run is the dispatcher loop; it returns when ctx ends, after the sends in
// flight have settled.
func (n *notifier) run(ctx context.Context) {
	defer n.sends.Wait()
	for _, p := range n.s.router.snapshot() {
		n.adopt(ctx, p.store)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
		next := n.pump(ctx)
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(next.Sub(n.s.now()), 0))
		}
	}
}

// pump leases, from every pool, what is due and there is room for,
// starts what the slots allow, and returns when the next pending delivery
// is due.
func (n *notifier) pump(ctx context.Context) time.Time {
	var next time.Time
	for _, st := range n.stores() {
		n.mu.Lock()
		room := min(maxHeld-len(n.held), 256)
		n.mu.Unlock()
		if room <= 0 {
			break
		}
		n.mu.Lock()
		from := n.from
		n.mu.Unlock()
		per := max(room/leaseShares, 1)
		ds, nx, err := st.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{
			Limit: room, Lease: leaseTimeouts * n.o.Timeout,
			PerProject: per, From: from, Now: n.s.now(),
		})
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				n.log.Error("herald: leasing deliveries", "err", err)
			}
			nx = n.s.now().Add(time.Second)
		}
		if !nx.IsZero() && (next.IsZero() || nx.Before(next)) {
			next = nx
		}
		n.mu.Lock()
		for _, d := range ds {
			if n.held[d.ID] {
				continue // still waiting for a slot since an earlier lease
			}
			l := lane{d.Queue.Project, d.Subscriber}
			if len(n.queues[l]) >= maxHeld/2 {
				// The rest of a slow subscriber's backlog stays in the
				// store, leased for a while and then due again, so one
				// subscriber never fills the dispatcher's memory and
				// starves the others.
				continue
			}
			n.held[d.ID] = true
			n.enqueue(l, outgoing{st, d})
		}
		if len(ds) > 0 {
			n.from = ds[len(ds)-1].Queue.Project + "\x00" // the next project in turn
		}
		n.mu.Unlock()
		if len(ds) == room || tookAll(ds, per) {
			n.kick() // more may be due
		}
	}
	n.start(ctx)
	return next
}

// enqueue puts o at the end of its lane, and a lane or project that had
// nothing waiting at the end of its turn order; n.mu is held.
func (n *notifier) enqueue(l lane, o outgoing) {
	if len(n.queues[l]) == 0 {
		if len(n.lanes[l.project]) == 0 {
			n.projects = append(n.projects, l.project)
		}
		n.lanes[l.project] = append(n.lanes[l.project], l)
	}
	n.queues[l] = append(n.queues[l], o)
}

// start sends waiting deliveries while the slots allow: round robin over
// projects, and within a project over its subscribers.
func (n *notifier) start(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.running < n.o.Concurrency && n.startNext(ctx) {
	}
}

// startNext starts the next delivery in turn and reports whether there
// was one a slot could take: the first project in turn with a subscriber
// under its PerSubscriber cap sends to the first such subscriber, and
// both go to the end of their turn orders. n.mu is held.
func (n *notifier) startNext(ctx context.Context) bool {
	for pi, p := range n.projects {
		ls := n.lanes[p]
		for li, l := range ls {
			if n.inflight[l.subscriber] >= n.o.PerSubscriber {
				continue
			}
			o := n.queues[l][0]
			n.queues[l] = n.queues[l][1:]
			ls = append(ls[:li], ls[li+1:]...)
			if len(n.queues[l]) == 0 {
				delete(n.queues, l)
			} else {
				ls = append(ls, l)
			}
			n.projects = append(n.projects[:pi], n.projects[pi+1:]...)
			if len(ls) == 0 {
				delete(n.lanes, p)
			} else {
				n.lanes[p] = ls
				n.projects = append(n.projects, p)
			}
			n.launch(ctx, l.subscriber, o)
			return true
		}
	}
	return false
}

// launch sends o in a goroutine of its own; n.mu is held.
func (n *notifier) launch(ctx context.Context, sub string, o outgoing) {
	n.inflight[sub]++
	n.running++
	n.sends.Go(func() {
		n.deliver(ctx, o.st, o.d)
		n.mu.Lock()
		if n.inflight[sub]--; n.inflight[sub] == 0 {
			delete(n.inflight, sub)
		}
		n.running--
		n.mu.Unlock()
		n.kick()
	})
}

// forget drops d from the held set. deliver calls it before settling: a
// settled delivery may be due again at once (an immediate retry), and the
// next lease must not take it for one still waiting. Until it is settled
// its lease keeps it from being leased twice.
func (n *notifier) forget(d store.Delivery) {
	n.mu.Lock()
	delete(n.held, d.ID)
	n.mu.Unlock()
}

// tookAll reports whether a lease took its whole share, per, from some
// project: that project may have more due.
func tookAll(ds []store.Delivery, per int) bool {
	n := 0
	for i, d := range ds {
		if i > 0 && d.Queue.Project != ds[i-1].Queue.Project {
			n = 0
		}
		if n++; n >= per {
			return true
		}
	}
	return false
}

// deliver makes one attempt and settles its outcome.
func (n *notifier) deliver(ctx context.Context, st store.Subscriber, d store.Delivery) {
	defer n.forget(d) // on the paths that return without settling
	sub, err := st.GetSubscription(ctx, store.GetSubscriptionParams{Queue: d.Queue, ID: d.Subscription, Now: n.s.now()})
	switch {
	case ctx.Err() != nil:
		return
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidID):
		// No subscription, or a delivery naming none (the zero id, I1):
		// retrying cannot help.
		n.forget(d)
		n.settle(ctx, st, d, store.Failed, time.Time{}, err)
		return
	case err != nil: // the store's trouble, not the subscriber's
		n.forget(d)
		n.settle(ctx, st, d, store.Retry, n.s.now().Add(time.Second), err)
		return
	case n.o.RequireConfirmation && !sub.Confirmed:
		// Unconfirmed after the delivery was recorded (S5): drop it.
		n.forget(d)
		n.settle(ctx, st, d, store.Delivered, time.Time{}, nil)
		return
	}
	actx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	err = n.send(actx, sub, d)
	cancel()
	if ctx.Err() != nil {
		return // stopping: the lease ends and the delivery comes back
	}
	n.forget(d)
	var perm *permanentError
	switch {
	case err == nil:
		n.settle(ctx, st, d, store.Delivered, time.Time{}, nil)
	case errors.As(err, &perm):
		n.settle(ctx, st, d, store.Failed, time.Time{}, err)
		n.log.Warn("herald: delivery failed for good", "queue", d.Queue.Name, "subscriber", d.Subscriber, "message", d.Message, "err", err)
	default:
		policy := n.policy(ctx, st, sub)
		delay, ok := policy.Delay(d.Attempts + 1)
		if !ok {
			n.settle(ctx, st, d, store.Failed, time.Time{}, err)
			n.log.Warn("herald: delivery retries exhausted", "queue", d.Queue.Name, "subscriber", d.Subscriber, "message", d.Message, "attempts", d.Attempts+1, "err", err)
			return
		}
		n.settle(ctx, st, d, store.Retry, n.s.now().Add(delay), err)
	}
}

// policy is the retry policy for a subscription of q (Zaqar's precedence).
// A policy that fails to parse (it was checked when stored) counts as none.
func (n *notifier) policy(ctx context.Context, st store.Subscriber, sub Subscription) RetryPolicy {
	sp, sok, _ := parseRetryPolicy(sub.Options)
	var qp RetryPolicy
	var qok bool
	if qs, ok := st.(store.QueueStore); ok {
		if info, err := qs.GetQueue(ctx, store.GetQueueParams{Queue: sub.Queue}); err == nil {
			qp, qok, _ = parseRetryPolicy(info.Metadata)
		}
	}
	return choosePolicy(sp, sok, qp, qok)
}

func (n *notifier) settle(ctx context.Context, st store.Subscriber, d store.Delivery, o store.Outcome, at time.Time, cause error) {
	p := store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Subscription: d.Subscription, Outcome: o, RetryAt: at, Now: n.s.now()}
	if cause != nil {
		p.Error = cause.Error()
	}
	if err := st.SettleDelivery(ctx, p); err != nil && ctx.Err() == nil {
		n.log.Error("herald: settling a delivery; it is sent again when its lease ends", "queue", d.Queue.Name, "err", err)
	}
}

// permanentError marks an attempt that retrying cannot fix (a 4xx answer,
// a refused target).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// confirmation is the request a new subscription gets when confirmation
// is required (S5): Zaqar's SubscriptionConfirmation payload, with the
// path and bodies that confirm or cancel it through the HTTP API.
type confirmation struct {
	MessageType     string          `json:"Message_Type"`
	Message         string          `json:"Message"`
	QueueName       string          `json:"queue_name"`
	ProjectID       string          `json:"X-Project-ID"`
	SubscriptionID  string          `json:"subscription_id"`
	URLMethods      string          `json:"URL-Methods"`
	URLPaths        string          `json:"URL-Paths"`
	SubscribeBody   json.RawMessage `json:"SubscribeBody"`
	UnsubscribeBody json.RawMessage `json:"UnsubscribeBody"`
}

// requestConfirmation sends sub its confirmation request in the
// background, retrying on the default retry policy. It is not durable: a
// request lost to a restart is sent again when the subscriber subscribes
// again (which returns the same, still unconfirmed, subscription).
func (n *notifier) requestConfirmation(sub Subscription) {
	body, err := json.Marshal(confirmation{
		MessageType:     "SubscriptionConfirmation",
		Message:         "You have chosen to subscribe to the queue: " + sub.Queue.Name,
		QueueName:       sub.Queue.Name,
		ProjectID:       sub.Queue.Project,
		SubscriptionID:  sub.ID.String(),
		URLMethods:      "PUT",
		URLPaths:        "/v2/queues/" + sub.Queue.Name + "/subscriptions/" + sub.ID.String() + "/confirm",
		SubscribeBody:   json.RawMessage(`{"confirmed":true}`),
		UnsubscribeBody: json.RawMessage(`{"confirmed":false}`),
	})
	if err != nil {
		return
	}
	d := store.Delivery{Subscription: sub.ID, Subscriber: sub.Subscriber, Queue: sub.Queue}
	n.confirms.Go(func() {
		policy := DefaultRetryPolicy()
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(n.ctx, n.o.Timeout)
			err := n.sendRaw(actx, sub, d, body)
			cancel()
			var perm *permanentError
			if err == nil || errors.As(err, &perm) || n.ctx.Err() != nil {
				if err != nil && n.ctx.Err() == nil {
					n.log.Warn("herald: confirmation request failed", "queue", sub.Queue.Name, "subscriber", sub.Subscriber, "err", err)
				}
				return
			}
			delay, ok := policy.Delay(attempt)
			if !ok {
				n.log.Warn("herald: confirmation request retries exhausted", "queue", sub.Queue.Name, "subscriber", sub.Subscriber, "err", err)
				return
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-n.ctx.Done():
				t.Stop()
				return
			}
		}
	})
}
