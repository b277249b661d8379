package herald

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
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
// m.ClaimCount is the attempt number: 1 the first time. It counts the
// claims whose consumer started the message (J1): a crash, a lost lease
// or a stop deadline mid-handler counts, a message handed back unstarted
// when Consume stops does not. ctx carries the values of Consume's ctx but
// not its cancellation: it ends only when a stop's
// ConsumeOptions.StopTimeout runs out.
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
	// MaxAttempts caps the attempts on one message: once attempt
	// MaxAttempts has failed, Consume gives the message up as for
	// Permanent (to the queue's dead-letter queue if it has one, else
	// dropped), and a message claimed again after that many attempts
	// ended without a handler error (a crash, a lost lease) is given up
	// without running. Zero means the queue's _max_claim_count
	// (QueueOptions.MaxClaimCount), even without a dead-letter queue;
	// when both are set the smaller wins, since with a dead-letter queue
	// a claim never hands a message out more than _max_claim_count times
	// (C6). Neither set: no cap. Negative is invalid.
	MaxAttempts int
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
		return store.Errorf(ErrInvalidLimit, "consume concurrency %d: negative", o.Concurrency)
	case o.StopTimeout < 0:
		return store.Errorf(ErrInvalidTTL, "consume stop timeout %v: negative", o.StopTimeout)
	case o.MaxAttempts < 0:
		return store.Errorf(ErrInvalidLimit, "consume max attempts %d: negative", o.MaxAttempts)
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
// with a backoff delay when the handler fails.
//
// A message whose last attempt fails (o.MaxAttempts or the queue's
// _max_claim_count, the smaller of those set), or whose handler returns
// Permanent, is given up: moved to the queue's dead-letter queue in one
// step with its delete, or dropped if the queue has none. Either is
// logged with the message's ID, its attempts and the last handler error;
// messages the store moves by C6 (their last claim ended without a handler
// error) are logged too. A dead-lettered message keeps its own expiry —
// by default one hour after it was posted (Limits.DefaultMessageTTL) — so
// a dead letter nobody reads within that time silently expires. Set the
// queue's _dead_letter_queue_messages_ttl to keep them longer:
//
//	q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
//		MaxClaimCount:   5,
//		DeadLetterQueue: "jobs.dead",
//		DeadLetterTTL:   14 * 24 * time.Hour, // counted from the move
//	}))
//
// A message is deleted only after its handler returned nil; if the process
// dies before that delete is durable, the message is handled again once
// its claim expires. Handlers must therefore be idempotent, or use
// Service.Tx to record their effect and the delete in one step.
//
// When ctx ends (or the Service closes) Consume stops claiming, hands
// claimed but unstarted messages back at once (without counting an
// attempt), lets running handlers finish for up to o.StopTimeout, then
// cancels their context, releases what they still hold and waits for them
// to return. It returns nil after a stop through ctx, ErrClosed after one
// through Service.Close, and otherwise the store error that stopped it
// (the same graceful stop happens first). Calling Service.Close from a
// handler deadlocks.
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
	// settled are messages a handler settled itself through ClaimOf (a
	// Tx or Claim.Delete): their ack deletes nothing, since a second
	// settle would fail (C3).
	settled map[ID]bool
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
		cl, err := c.q.claim(ctx, ClaimOptions{TTL: c.o.LeaseTTL, Limit: c.o.Batch, Wait: feedWait}, store.CreateClaimParams{}, nil, c.o.Logger)
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
// handler has started, with their claim counts as they were before (J1).
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
			c.handBack(l, 0, true, ids...)
		}
	}
}

// handle runs the handler on one message of l and settles the message.
func (c *consumer) handle(l *lease, m Message) {
	if m.ClaimCount > 1 {
		// Attempts may have ended without a failure reported here.
		opts, oerr := c.q.Options(c.opCtx)
		if limit := c.maxAttempts(opts, oerr); limit > 0 && m.ClaimCount > limit {
			c.giveUp(l, m, opts, oerr, errAttemptsUsed, "its attempts are used up", limit)
			return
		}
	}
	err := c.call(l.ctx, m)
	if err != nil && l.hasSettled(m.ID) {
		// It is deleted: there is nothing to hand back or dead-letter.
		c.log.Warn("herald: handler failed after settling its message through ClaimOf; the message is done", "message", m.ID, "err", err)
		err = nil
	}
	switch {
	case err == nil:
		c.ack(l, m.ID)
		return
	case c.hctx.Err() != nil:
		// Cut short by the stop deadline: not the message's fault, so
		// no backoff; but it was started, so the attempt counts.
		c.release(l, 0, m.ID)
		return
	}
	opts, oerr := c.q.Options(c.opCtx)
	limit := c.maxAttempts(opts, oerr)
	delay, retry := retryOf(err, c.o.Backoff, m.ClaimCount, c.q.s.limits.MaxMessageDelay)
	switch {
	case !retry:
		c.giveUp(l, m, opts, oerr, err, "the handler gave up", limit)
	case limit > 0 && m.ClaimCount >= limit:
		c.giveUp(l, m, opts, oerr, err, "its last attempt failed", limit)
	default:
		c.log.Warn("herald: handler failed; will retry", "message", m.ID, "attempt", m.ClaimCount,
			"max_attempts", limit, "retry_in", delay, "err", err)
		c.release(l, delay, m.ID)
	}
}

// errAttemptsUsed is the cause given for a message claimed again after
// its last attempt ended without a handler error.
var errAttemptsUsed = errors.New("its last attempt ended without a handler error (a crash, a lost lease or a stop)")

// maxAttempts is the cap on attempts (zero: none): o.MaxAttempts or the
// queue's _max_claim_count, the smaller of those set. Without the queue's
// options (oerr) it is o.MaxAttempts.
func (c *consumer) maxAttempts(opts QueueOptions, oerr error) int {
	n := opts.MaxClaimCount
	if oerr != nil {
		n = 0
	}
	switch {
	case n == 0:
		return c.o.MaxAttempts
	case c.o.MaxAttempts == 0:
		return n
	}
	return min(n, c.o.MaxAttempts)
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
// Consume's copy tells Consume what was settled through it, so Consume's
// own delete after the handler returns nil skips that message (deleting
// it again under the claim would fail with ErrMessageGone, C3).
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

// hasSettled reports whether a handler settled id through l's claim.
func (l *lease) hasSettled(id ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.settled[id]
}

// settledBy records ids a handler settled through l's claim.
func (l *lease) settledBy(ids []ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settled == nil {
		l.settled = make(map[ID]bool, len(ids))
	}
	for _, id := range ids {
		l.settled[id] = true
	}
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
		n := len(batch)
		batch = slices.DeleteFunc(batch, func(id ID) bool {
			if l.settled[id] { // its handler settled it: nothing to delete
				delete(l.settled, id)
				return true
			}
			return false
		})
		l.mu.Unlock()
		if len(batch) > 0 {
			c.deleteHandled(l, batch)
		}
		l.mu.Lock()
		l.held -= n
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
// others are not handled twice. A message that is gone was settled by
// someone else after the claim was lost (or deleted by hand, or expired):
// it will not come back, so it is logged as such and not retried.
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
	if errors.Is(err, ErrMessageGone) {
		c.log.Warn("herald: a handled message was already gone: this claim had lost it (another consumer may have handled it too), or it was deleted or expired", "message", batch[0], "claim", l.c.ID, "err", err)
		return
	}
	c.log.Warn("herald: could not delete a handled message; it will be handled again", "message", batch[0], "err", err)
}

// release hands messages back, visible after delay, and stops holding them.
func (c *consumer) release(l *lease, delay time.Duration, ids ...ID) {
	c.handBack(l, delay, false, ids...)
}

// handBack is release; unstarted takes back the attempt each message's
// claim counted (J1).
func (c *consumer) handBack(l *lease, delay time.Duration, unstarted bool, ids ...ID) {
	if err := l.c.release(c.opCtx, delay, unstarted, ids); err != nil {
		c.log.Warn("herald: could not release messages; they return when the claim expires", "messages", len(ids), "err", err)
	}
	c.settle(l, len(ids))
}

// giveUp moves a message that will not be tried again to the queue's
// dead-letter queue, in one step with its delete, or deletes it if the
// queue has none; why says what ended it, cause is the last handler
// error. opts are the queue's options, unknown if oerr is set: then the
// message is left under its claim, to come back when the claim expires.
//
// The dead letter keeps the message's body, client ID and expiry (or
// gets _dead_letter_queue_messages_ttl), as a C6 move does. Messages have
// no headers yet, so the reason lives only in the log.
func (c *consumer) giveUp(l *lease, m Message, opts QueueOptions, oerr error, cause error, why string, limit int) {
	defer c.settle(l, 1)
	err := oerr
	switch {
	case err != nil:
	case opts.DeadLetterQueue != "":
		dlq := c.q.s.Project(c.q.ref.Project).Queue(opts.DeadLetterQueue).WithClientID(m.ClientID)
		var ids [][]ID
		// Past the queue limit too, as the store's own move (L1).
		ids, err = c.q.s.tx(c.opCtx, func(tx *Tx) error {
			tx.Post(dlq, Draft{Body: m.Body, TTL: c.deadLetterTTL(m, opts)})
			tx.DeleteClaimed(l.c, m.ID)
			return nil
		}, true)
		if err == nil {
			c.log.Warn("herald: message dead-lettered: "+why, "message", m.ID, "attempts", m.ClaimCount,
				"max_attempts", limit, "dead_letter_queue", dlq.Name(), "dead_letter_id", ids[0][0], "err", cause)
			return
		}
	default:
		if err = l.c.Delete(c.opCtx, m.ID); err == nil {
			c.log.Error("herald: message dropped (the queue has no dead-letter queue): "+why, "message", m.ID,
				"attempts", m.ClaimCount, "max_attempts", limit, "err", cause)
			return
		}
	}
	c.log.Warn("herald: could not give up on a message; it comes back when its claim expires", "message", m.ID,
		"attempts", m.ClaimCount, "err", err, "cause", cause)
}

// deadLetterTTL is the TTL of m's dead letter: the queue's
// _dead_letter_queue_messages_ttl, else what is left of m's own (C6),
// within the message TTL limits.
func (c *consumer) deadLetterTTL(m Message, opts QueueOptions) time.Duration {
	if opts.DeadLetterTTL > 0 {
		return opts.DeadLetterTTL
	}
	l := &c.q.s.limits
	return min(max(m.Expires.Sub(c.q.s.now()), l.MinMessageTTL), l.MaxMessageTTL)
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
	l := &lease{c: cl, held: len(cl.Messages)}
	snap.settled = l.settledBy
	l.ctx = context.WithValue(c.hctx, claimKey{}, &snap)
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

// holds counts the messages l still holds: not yet handed back, given up,
// deleted, or settled by their handler (a claim ends with its last
// message, so a claim whose handlers settled everything is finished, not
// lost).
func (c *consumer) holds(l *lease) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held - len(l.settled)
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
