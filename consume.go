package herald

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/heraldmq/herald/store"
)

// Handler processes one message for Consume. Returning nil acknowledges
// the message: Consume deletes it. An error has it tried again after a
// backoff; wrap the error with RetryAfter to choose the delay, or with
// Permanent to give up on the message. A panic is recovered, logged with
// its stack, and counts as an error.
//
// m.ClaimCount is the attempt number: 1 the first time. It counts claims,
// so a message handed back unstarted when Consume stops counts one too.
// ctx carries the values of Consume's ctx but not its cancellation: it
// ends only when a stop's ConsumeOptions.StopTimeout runs out.
type Handler func(ctx context.Context, m Message) error

// ConsumeOptions tune Consume. The zero value runs one handler at a time
// on claims of Limits.DefaultClaimLimit messages.
type ConsumeOptions struct {
	// Concurrency is how many handlers run at once. Zero means 1.
	Concurrency int
	// Batch is how many messages one claim takes; messages claimed and
	// not yet started wait under the claim for a free handler. Zero means
	// Limits.DefaultClaimLimit (10).
	Batch int
	// LeaseTTL is the TTL of Consume's claims. A heartbeat renews a claim
	// every LeaseTTL/3 while any of its messages is unfinished, so a
	// handler may run longer than LeaseTTL; if the process dies, its
	// messages come back once LeaseTTL (plus the claim grace) has passed.
	// Zero means 30 s.
	LeaseTTL time.Duration
	// Backoff is the delay before a failed message is tried again.
	Backoff Backoff
	// StopTimeout is how long running handlers may go on after ctx ends
	// (or the Service closes) before their context is cancelled. Zero
	// means 30 s.
	StopTimeout time.Duration
	// Logger receives handler failures, panics and lost leases. Nil means
	// the Service's logger.
	Logger *slog.Logger
}

func (s *Service) resolveConsume(o *ConsumeOptions) error {
	l := &s.limits
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Batch == 0 {
		o.Batch = l.DefaultClaimLimit
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = s.log
	}
	switch {
	case o.Concurrency < 0:
		return store.Errorf(ErrInvalid, "consume concurrency %d: negative", o.Concurrency)
	case o.StopTimeout < 0:
		return store.Errorf(ErrInvalid, "consume stop timeout %v: negative", o.StopTimeout)
	}
	if err := l.checkCount(o.Batch, "consume batch", ""); err != nil {
		return err
	}
	if err := l.checkClaimTTL(o.LeaseTTL); err != nil {
		return err
	}
	var err error
	o.Backoff, err = o.Backoff.withDefaults(l.MaxMessageDelay)
	return err
}

// Consume runs h on the queue's messages until ctx ends (task
// distribution with at-least-once delivery). It claims batches with a
// blocking claim (no polling), runs up to o.Concurrency handlers at once,
// keeps each claim alive with a heartbeat while its messages are being
// handled, deletes a message when its handler returns nil, and releases it
// with a backoff delay when the handler fails. The queue's
// _max_claim_count and _dead_letter_queue apply as to any claim (C6).
//
// A message is deleted only after its handler returned nil; if the process
// dies before that delete is durable, the message is handled again once
// its claim expires. Handlers must therefore be idempotent, or use
// Service.Tx to record their effect and the delete in one step.
//
// When ctx ends (or the Service closes) Consume stops claiming, hands
// claimed but unstarted messages back at once, lets running handlers
// finish for up to o.StopTimeout, then cancels their context, releases
// what they still hold and waits for them to return. It returns nil after
// a stop through ctx, ErrClosed after one through Service.Close, and
// otherwise the store error that stopped it (the same graceful stop
// happens first). Calling Service.Close from a handler deadlocks.
func (q *Queue) Consume(ctx context.Context, h Handler, o ConsumeOptions) error {
	if h == nil {
		return store.Errorf(ErrInvalid, "consume of %q: nil handler", q.ref.Name)
	}
	if err := q.ref.Check(); err != nil {
		return err
	}
	if err := q.s.resolveConsume(&o); err != nil {
		return err
	}
	if err := q.s.consumers.join(); err != nil {
		return err
	}
	defer q.s.consumers.leave()
	return newConsumer(ctx, q, h, o).run(ctx)
}

// consumer is one running Consume.
type consumer struct {
	q   *Queue
	h   Handler
	o   ConsumeOptions
	log *slog.Logger
	// opCtx carries acks, releases and renewals: it outlives a stop.
	opCtx context.Context
	// hctx is the handlers' context: it ends at the stop deadline.
	hctx    context.Context
	hcancel context.CancelFunc
	// work hands a lease with unstarted messages to a free handler,
	// which takes messages from it until none is left.
	work chan *lease

	mu     sync.Mutex
	leases map[*lease]struct{}
}

// lease is a claim Consume holds; the heartbeat renews it while any of its
// messages is unfinished (neither deleted nor released). Handlers take its
// messages in order; those not started when Consume stops go back at once.
type lease struct {
	c *Claim
	// ctx is the handlers' context with the claim for ClaimOf.
	ctx      context.Context
	mu       sync.Mutex
	next     int // c.Messages[next:] are not started
	held     int
	acks     []ID // handled, waiting for their delete
	flushing bool
}

func newConsumer(ctx context.Context, q *Queue, h Handler, o ConsumeOptions) *consumer {
	opCtx := context.WithoutCancel(ctx)
	hctx, hcancel := context.WithCancel(opCtx)
	return &consumer{
		q: q, h: h, o: o, log: o.Logger.With("queue", q.ref.Name),
		opCtx: opCtx, hctx: hctx, hcancel: hcancel,
		work:   make(chan *lease),
		leases: make(map[*lease]struct{}),
	}
}

func (c *consumer) run(ctx context.Context) error {
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	var bg sync.WaitGroup
	closing := c.q.s.consumers.stop
	bg.Go(func() {
		select {
		case <-closing:
			stopFeed()
		case <-feedCtx.Done():
		}
	})
	hbCtx, stopHeartbeat := context.WithCancel(context.Background())
	bg.Go(func() { c.heartbeat(hbCtx) })

	var handlers sync.WaitGroup
	for range c.o.Concurrency {
		handlers.Go(func() {
			for l := range c.work {
				for m, ok := l.take(); ok; m, ok = l.take() {
					c.handle(l, m)
				}
			}
		})
	}
	err := c.feed(feedCtx)
	c.releaseUnstarted()
	close(c.work)
	deadline := time.AfterFunc(c.o.StopTimeout, c.hcancel)
	handlers.Wait()
	deadline.Stop()
	c.hcancel()
	stopFeed()
	stopHeartbeat()
	bg.Wait()

	select {
	case <-closing:
		return ErrClosed
	default:
	}
	return err
}

// feedWait is how long one blocking claim waits before Consume claims
// again; any post, release or claim expiry wakes it sooner.
const feedWait = time.Minute

// feed claims batches and hands them to free handlers until ctx ends or a
// claim fails. A batch goes to as many handlers as it has messages, up to
// Concurrency, so messages reach handlers without a hand-off each.
func (c *consumer) feed(ctx context.Context) error {
	for ctx.Err() == nil { // a claim made after the stop would cost a claim count
		cl, err := c.q.Claim(ctx, ClaimOptions{TTL: c.o.LeaseTTL, Limit: c.o.Batch, Wait: feedWait})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(cl.Messages) == 0 {
			continue
		}
		l := c.track(cl)
		if ctx.Err() != nil {
			return nil // run gives the batch back unstarted
		}
		for range min(len(cl.Messages), c.o.Concurrency) {
			select {
			case c.work <- l:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// take returns the next unstarted message of l, if any.
func (l *lease) take() (Message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == len(l.c.Messages) {
		return Message{}, false
	}
	l.next++
	return l.c.Messages[l.next-1], true
}

// releaseUnstarted gives back at once the messages of every lease that no
// handler has started.
func (c *consumer) releaseUnstarted() {
	for _, l := range c.held() {
		l.mu.Lock()
		rest := l.c.Messages[l.next:]
		l.next = len(l.c.Messages)
		l.mu.Unlock()
		if len(rest) > 0 {
			ids := make([]ID, len(rest))
			for i, m := range rest {
				ids[i] = m.ID
			}
			c.release(l, 0, ids...)
		}
	}
}

// handle runs the handler on one message of l and settles the message.
func (c *consumer) handle(l *lease, m Message) {
	err := c.call(l.ctx, m)
	switch {
	case err == nil:
		c.ack(l, m.ID)
	case c.hctx.Err() != nil:
		// Cut short by the stop deadline: not the message's fault, so
		// no backoff.
		c.release(l, 0, m.ID)
	default:
		delay, retry := retryOf(err, c.o.Backoff, m.ClaimCount, c.q.s.limits.MaxMessageDelay)
		if !retry {
			c.giveUp(l, m, err)
			return
		}
		c.log.Warn("herald: handler failed; will retry", "message", m.ID, "attempt", m.ClaimCount, "retry_in", delay, "err", err)
		c.release(l, delay, m.ID)
	}
}

// call runs the handler, turning a panic into an error.
func (c *consumer) call(ctx context.Context, m Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("herald: handler panicked", "message", m.ID, "attempt", m.ClaimCount,
				"panic", v, "stack", string(debug.Stack()))
			// One prefix, also when the handler panicked with a herald error.
			err = fmt.Errorf("herald: handler panicked: %s", strings.TrimPrefix(fmt.Sprint(v), "herald: "))
		}
	}()
	return c.h(ctx, m)
}

type claimKey struct{}

// ClaimOf returns the claim that Consume holds a handler's message under,
// from the handler's ctx, or nil outside a handler. It is a copy made when
// the claim was taken: its ID and Messages are right, its Expires is not
// kept up to date by the heartbeat, and Renew or Release through it would
// compete with Consume's own. A handler that
// produces messages can delete its message and post its output in one
// step, so a crash never leaves one without the other:
//
//	svc.Tx(ctx, func(tx *herald.Tx) error {
//		tx.Post(out, herald.Draft{Body: result})
//		tx.DeleteClaimed(herald.ClaimOf(ctx), m.ID)
//		return nil
//	})
//
// Consume's own delete after the handler returns nil then finds nothing
// left to do.
func ClaimOf(ctx context.Context) *Claim {
	c, _ := ctx.Value(claimKey{}).(*Claim)
	return c
}

// ack deletes a handled message. Deletes are batched per claim: a
// claim's handled messages are deleted together once none of its messages
// is still running or waiting, or at the next heartbeat if one straggles.
// A message that finishes while a delete runs goes in that flusher's next
// delete.
func (c *consumer) ack(l *lease, id ID) {
	l.mu.Lock()
	l.acks = append(l.acks, id)
	c.flushIfDone(l)
}

// flushIfDone flushes l if every message it still holds is handled. l.mu
// is held; flushIfDone releases it.
func (c *consumer) flushIfDone(l *lease) {
	if !l.flushing && len(l.acks) < l.held {
		l.mu.Unlock()
		return
	}
	c.flush(l)
}

// flush deletes l's handled messages, unless another goroutine is doing
// so already: that one picks them up. l.mu is held; flush releases it.
func (c *consumer) flush(l *lease) {
	if l.flushing || len(l.acks) == 0 {
		l.mu.Unlock()
		return
	}
	l.flushing = true
	for len(l.acks) > 0 {
		batch := l.acks
		l.acks = nil
		l.mu.Unlock()
		c.deleteHandled(l, batch)
		l.mu.Lock()
		l.held -= len(batch)
	}
	l.flushing = false
	end := l.held == 0
	l.mu.Unlock()
	if end {
		c.untrack(l)
	}
}

// deleteHandled deletes messages whose handlers succeeded. If the batch
// fails whole (one message's claim was lost), each is tried alone so the
// others are not handled twice.
func (c *consumer) deleteHandled(l *lease, batch []ID) {
	err := l.c.Delete(c.opCtx, batch...)
	if err == nil {
		return
	}
	if len(batch) > 1 && !errors.Is(err, ErrClosed) {
		for _, id := range batch {
			c.deleteHandled(l, []ID{id})
		}
		return
	}
	c.log.Warn("herald: could not delete a handled message; it will be handled again", "message", batch[0], "err", err)
}

// release hands messages back, visible after delay, and stops holding them.
func (c *consumer) release(l *lease, delay time.Duration, ids ...ID) {
	if err := l.c.Release(c.opCtx, delay, ids...); err != nil {
		c.log.Warn("herald: could not release messages; they return when the claim expires", "messages", len(ids), "err", err)
	}
	c.settle(l, len(ids))
}

// giveUp moves a message whose handler asked for no retry to the queue's
// dead-letter queue, in one step with its delete, or deletes it if the
// queue has none.
func (c *consumer) giveUp(l *lease, m Message, cause error) {
	defer c.settle(l, 1)
	opts, err := c.q.Options(c.opCtx)
	if err == nil && opts.DeadLetterQueue != "" {
		dlq := c.q.s.Project(c.q.ref.Project).Queue(opts.DeadLetterQueue)
		_, err = c.q.s.Tx(c.opCtx, func(tx *Tx) error {
			tx.Post(dlq, Draft{Body: m.Body, TTL: opts.DeadLetterTTL})
			tx.DeleteClaimed(l.c, m.ID)
			return nil
		})
		if err == nil {
			c.log.Warn("herald: handler gave up; message dead-lettered", "message", m.ID, "attempt", m.ClaimCount, "dead_letter_queue", dlq.Name(), "err", cause)
			return
		}
	} else if err == nil {
		if err = l.c.Delete(c.opCtx, m.ID); err == nil {
			c.log.Error("herald: handler gave up; message dropped (the queue has no dead-letter queue)", "message", m.ID, "attempt", m.ClaimCount, "err", cause)
			return
		}
	}
	c.log.Warn("herald: could not give up on a message; it comes back when its claim expires", "message", m.ID, "err", err, "cause", cause)
}

// settle marks n messages of l given back or given up; the handled rest
// may now be deleted.
func (c *consumer) settle(l *lease, n int) {
	l.mu.Lock()
	l.held -= n
	if l.held == 0 && !l.flushing {
		l.mu.Unlock()
		c.untrack(l)
		return
	}
	c.flushIfDone(l)
}

func (c *consumer) track(cl *Claim) *lease {
	snap := *cl // ClaimOf's copy: the heartbeat renews cl meanwhile
	l := &lease{c: cl, ctx: context.WithValue(c.hctx, claimKey{}, &snap), held: len(cl.Messages)}
	c.mu.Lock()
	c.leases[l] = struct{}{}
	c.mu.Unlock()
	return l
}

// held returns the leases Consume holds now.
func (c *consumer) held() []*lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*lease, 0, len(c.leases))
	for l := range c.leases {
		out = append(out, l)
	}
	return out
}

func (c *consumer) untrack(l *lease) {
	c.mu.Lock()
	delete(c.leases, l)
	c.mu.Unlock()
}

// heartbeat renews every held claim each LeaseTTL/3, deleting what was
// handled so far, until ctx ends.
func (c *consumer) heartbeat(ctx context.Context) {
	t := time.NewTicker(c.o.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, l := range c.held() {
			l.mu.Lock()
			c.flush(l) // stragglers: handled messages of a claim still running
			c.renew(l)
		}
	}
}

// renew extends l. A claim that is gone although messages are still held
// was lost (the process stalled past its expiry): those messages may now
// be someone else's, and their deletes will fail.
func (c *consumer) renew(l *lease) {
	if c.holds(l) == 0 {
		return // finished: the claim ended with its last message
	}
	err := l.c.Renew(c.opCtx, 0)
	if err == nil {
		return
	}
	held := c.holds(l)
	if held == 0 {
		return // finished meanwhile
	}
	if errors.Is(err, ErrClaimNotFound) {
		c.untrack(l)
		l.mu.Lock()
		l.next = len(l.c.Messages) // not ours any more: start none of them
		l.mu.Unlock()
		c.log.Warn("herald: claim ended while its messages were being handled: deleted through a transaction meanwhile, or lost, and then they may be handled twice", "claim", l.c.ID, "messages", held)
		return
	}
	c.log.Warn("herald: could not renew a claim", "claim", l.c.ID, "err", err)
}

func (c *consumer) holds(l *lease) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// consumers tracks running Consume loops so Close can stop them first.
type consumers struct {
	mu      sync.Mutex
	closing bool
	stop    chan struct{} // closed when the Service starts closing
	wg      sync.WaitGroup
}

func newConsumers() *consumers { return &consumers{stop: make(chan struct{})} }

func (c *consumers) join() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return ErrClosed
	}
	c.wg.Add(1)
	return nil
}

func (c *consumers) leave() { c.wg.Done() }

// close stops every Consume and waits for them to return.
func (c *consumers) close() {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		close(c.stop)
	}
	c.mu.Unlock()
	c.wg.Wait()
}
