package herald

import (
	"errors"
	"time"

	"github.com/heraldmq/herald/store"
)

// Limits bound what callers may ask of a Service. A zero field takes the
// default named in its comment; a negative one makes New fail.
type Limits struct {
	// MaxMessageSize bounds one message body in bytes. Default 256 KiB.
	MaxMessageSize int
	// MaxPostSize bounds the summed bodies of one Post. Default 256 KiB.
	// A queue's _max_messages_post_size may lower it.
	MaxPostSize int
	// MaxMetadataSize bounds a queue's metadata as JSON. Default 64 KiB.
	MaxMetadataSize int
	// MaxMessagesPerCall bounds the drafts of one Post, the messages of one
	// claim, pop or list page, and the IDs of one Get or Delete. Default
	// 1,000.
	MaxMessagesPerCall int

	// MinMessageTTL and MaxMessageTTL bound message lifetimes. Defaults 1 s
	// and 14 days. (The HTTP API applies Zaqar's 60 s floor itself.)
	MinMessageTTL time.Duration
	MaxMessageTTL time.Duration
	// DefaultMessageTTL applies when neither the draft nor the queue sets
	// one. Default 1 hour.
	DefaultMessageTTL time.Duration
	// MaxMessageDelay bounds message delays and release delays. Default 15
	// minutes.
	MaxMessageDelay time.Duration

	// MinClaimTTL and MaxClaimTTL bound claim lifetimes. Defaults 1 s and 12
	// hours. DefaultClaimTTL applies when a claim asks for none: 5 minutes.
	MinClaimTTL     time.Duration
	MaxClaimTTL     time.Duration
	DefaultClaimTTL time.Duration
	// MaxClaimGrace bounds claim grace; DefaultClaimGrace applies when a
	// claim asks for none. Defaults 12 hours and 1 minute.
	MaxClaimGrace     time.Duration
	DefaultClaimGrace time.Duration
	// DefaultClaimLimit is how many messages a claim takes when it asks for
	// no number. Default 10.
	DefaultClaimLimit int
	// DefaultPageSize is the List page size when none is asked. Default 10.
	DefaultPageSize int

	// DefaultSubscriptionTTL is a subscription's lifetime when it asks for
	// none, and MaxSubscriptionTTL bounds it (S1). Defaults 1 hour and 365
	// days. A subscription's options may be MaxMetadataSize bytes.
	DefaultSubscriptionTTL time.Duration
	MaxSubscriptionTTL     time.Duration

	// MaxQueuesPerProject bounds one project's queues (L1). Default
	// 10,000. Creating one more, by Create, a post to a missing queue
	// (Q2), a transaction's post or a subscription to a missing queue,
	// gives ErrTooMany and changes nothing. Zaqar has no such bound; this
	// one exists because an empty queue still costs storage (a few KiB in
	// a bolt file) and a project could otherwise fill the disk with
	// 100,000 empty queues. 10,000 is far above what applications that
	// keep a queue per worker, tenant or device pool use, and bounds a
	// project to tens of MiB of empty queues. A claim's move to a missing
	// dead-letter queue (C6) creates it even past the bound, so the
	// bound never loses a message: a project holds at most twice the
	// bound that way (each such queue is named by one of its queues).
	// With Pools the bound counts the project's queues on every pool.
	MaxQueuesPerProject int
	// MaxSubscriptionsPerQueue bounds one queue's subscriptions (L2).
	// Default 100. One more gives ErrTooMany and changes nothing;
	// subscribing the same subscriber again returns its subscription as
	// before (S1). Every post records one delivery per subscription in
	// its own transaction (S2), so a post's cost grows with this number:
	// 5,000 subscriptions on one queue took its posts from ~900/s to 7/s
	// and slowed other projects' posts too. 100 endpoints per queue is
	// more than fan-out to services needs; fan-out to very many
	// listeners is what Observe or List with markers is for. Expired
	// subscriptions count until the sweeper removes them (B1).
	MaxSubscriptionsPerQueue int

	// DedupWindow is how long a Draft's DedupID is remembered (M10).
	// Default 5 minutes.
	DedupWindow time.Duration
	// MaxDedupIDLen bounds a DedupID in bytes. Default 256.
	MaxDedupIDLen int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:         256 << 10,
		MaxPostSize:            256 << 10,
		MaxMetadataSize:        64 << 10,
		MaxMessagesPerCall:     1000,
		MinMessageTTL:          time.Second,
		MaxMessageTTL:          14 * 24 * time.Hour,
		DefaultMessageTTL:      time.Hour,
		MaxMessageDelay:        15 * time.Minute,
		MinClaimTTL:            time.Second,
		MaxClaimTTL:            12 * time.Hour,
		DefaultClaimTTL:        5 * time.Minute,
		MaxClaimGrace:          12 * time.Hour,
		DefaultClaimGrace:      time.Minute,
		DefaultClaimLimit:      10,
		DefaultPageSize:        10,
		DefaultSubscriptionTTL: time.Hour,
		MaxSubscriptionTTL:     365 * 24 * time.Hour,
		DedupWindow:            5 * time.Minute,
		MaxDedupIDLen:          256,

		MaxQueuesPerProject:      10_000,
		MaxSubscriptionsPerQueue: 100,
	}
}

// withDefaults fills zero fields from DefaultLimits and rejects negative or
// contradictory ones.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits()
	errs := []error{
		orDefault(&l.MaxMessageSize, d.MaxMessageSize, "MaxMessageSize", ErrInvalidLimit),
		orDefault(&l.MaxPostSize, d.MaxPostSize, "MaxPostSize", ErrInvalidLimit),
		orDefault(&l.MaxMetadataSize, d.MaxMetadataSize, "MaxMetadataSize", ErrInvalidLimit),
		orDefault(&l.MaxMessagesPerCall, d.MaxMessagesPerCall, "MaxMessagesPerCall", ErrInvalidLimit),
		orDefault(&l.DefaultClaimLimit, d.DefaultClaimLimit, "DefaultClaimLimit", ErrInvalidLimit),
		orDefault(&l.DefaultPageSize, d.DefaultPageSize, "DefaultPageSize", ErrInvalidLimit),
		orDefault(&l.MaxDedupIDLen, d.MaxDedupIDLen, "MaxDedupIDLen", ErrInvalidLimit),
		orDefault(&l.MinMessageTTL, d.MinMessageTTL, "MinMessageTTL", ErrInvalidTTL),
		orDefault(&l.MaxMessageTTL, d.MaxMessageTTL, "MaxMessageTTL", ErrInvalidTTL),
		orDefault(&l.DefaultMessageTTL, d.DefaultMessageTTL, "DefaultMessageTTL", ErrInvalidTTL),
		orDefault(&l.MaxMessageDelay, d.MaxMessageDelay, "MaxMessageDelay", ErrInvalidDelay),
		orDefault(&l.MinClaimTTL, d.MinClaimTTL, "MinClaimTTL", ErrInvalidTTL),
		orDefault(&l.MaxClaimTTL, d.MaxClaimTTL, "MaxClaimTTL", ErrInvalidTTL),
		orDefault(&l.DefaultClaimTTL, d.DefaultClaimTTL, "DefaultClaimTTL", ErrInvalidTTL),
		orDefault(&l.MaxClaimGrace, d.MaxClaimGrace, "MaxClaimGrace", ErrInvalidTTL),
		orDefault(&l.DefaultClaimGrace, d.DefaultClaimGrace, "DefaultClaimGrace", ErrInvalidTTL),
		orDefault(&l.DedupWindow, d.DedupWindow, "DedupWindow", ErrInvalidTTL),
		orDefault(&l.DefaultSubscriptionTTL, d.DefaultSubscriptionTTL, "DefaultSubscriptionTTL", ErrInvalidTTL),
		orDefault(&l.MaxSubscriptionTTL, d.MaxSubscriptionTTL, "MaxSubscriptionTTL", ErrInvalidTTL),
		orDefault(&l.MaxQueuesPerProject, d.MaxQueuesPerProject, "MaxQueuesPerProject", ErrInvalidLimit),
		orDefault(&l.MaxSubscriptionsPerQueue, d.MaxSubscriptionsPerQueue, "MaxSubscriptionsPerQueue", ErrInvalidLimit),
	}
	if err := errors.Join(errs...); err != nil {
		return l, err
	}
	switch {
	case l.MinMessageTTL > l.MaxMessageTTL || !between(l.DefaultMessageTTL, l.MinMessageTTL, l.MaxMessageTTL):
		return l, store.Errorf(ErrInvalidTTL, "Limits: DefaultMessageTTL must be MinMessageTTL to MaxMessageTTL (%v to %v), got %v", l.MinMessageTTL, l.MaxMessageTTL, l.DefaultMessageTTL)
	case l.MinClaimTTL > l.MaxClaimTTL || !between(l.DefaultClaimTTL, l.MinClaimTTL, l.MaxClaimTTL):
		return l, store.Errorf(ErrInvalidTTL, "Limits: DefaultClaimTTL must be MinClaimTTL to MaxClaimTTL (%v to %v), got %v", l.MinClaimTTL, l.MaxClaimTTL, l.DefaultClaimTTL)
	case l.DefaultSubscriptionTTL > l.MaxSubscriptionTTL:
		return l, store.Errorf(ErrInvalidTTL, "Limits: subscription TTL default %v above %v", l.DefaultSubscriptionTTL, l.MaxSubscriptionTTL)
	case l.DefaultClaimGrace > l.MaxClaimGrace:
		return l, store.Errorf(ErrInvalidTTL, "Limits: claim grace default %v above %v", l.DefaultClaimGrace, l.MaxClaimGrace)
	case l.DefaultClaimLimit > l.MaxMessagesPerCall || l.DefaultPageSize > l.MaxMessagesPerCall:
		return l, store.Errorf(ErrInvalidLimit, "Limits: default claim limit %d or page size %d above MaxMessagesPerCall %d", l.DefaultClaimLimit, l.DefaultPageSize, l.MaxMessagesPerCall)
	}
	return l, nil
}

// orDefault sets a zero *v to def and rejects a negative one with kind.
func orDefault[T int | time.Duration](v *T, def T, name string, kind error) error {
	switch {
	case *v < 0:
		return store.Errorf(kind, "Limits.%s %v: negative", name, *v)
	case *v == 0:
		*v = def
	}
	return nil
}

// quota is what the stores enforce of the limits (L1, L2).
func (l *Limits) quota() store.Quota {
	return store.Quota{QueuesPerProject: l.MaxQueuesPerProject, SubscriptionsPerQueue: l.MaxSubscriptionsPerQueue}
}

func between(v, lo, hi time.Duration) bool { return v >= lo && v <= hi }

func (l *Limits) checkMessageTTL(ttl time.Duration) error {
	if ttl != 0 && !between(ttl, l.MinMessageTTL, l.MaxMessageTTL) {
		return store.Errorf(ErrInvalidTTL, "message ttl must be %v to %v, got %v", l.MinMessageTTL, l.MaxMessageTTL, ttl)
	}
	return nil
}

func (l *Limits) checkDelay(d time.Duration) error {
	if !between(d, 0, l.MaxMessageDelay) {
		return store.Errorf(ErrInvalidDelay, "message delay must be 0 to %v, got %v", l.MaxMessageDelay, d)
	}
	return nil
}

// pageSize returns the page size a listing asked for, or the default for
// zero, checked against MaxMessagesPerCall.
func (l *Limits) pageSize(n int) (int, error) {
	if n == 0 {
		n = l.DefaultPageSize
	}
	return n, l.checkCount(n, "page size", "")
}

// checkCount checks a count against 1..MaxMessagesPerCall: what is the
// call ("a post") and unit what it counts ("messages"), or what is the
// setting ("page size") and unit is empty.
func (l *Limits) checkCount(n int, what, unit string) error {
	switch {
	case n >= 1 && n <= l.MaxMessagesPerCall:
		return nil
	case unit == "":
		return store.Errorf(ErrInvalidLimit, "%s must be 1 to %d, got %d", what, l.MaxMessagesPerCall, n)
	}
	return store.Errorf(ErrInvalidLimit, "%s needs 1 to %d %s, got %d", what, l.MaxMessagesPerCall, unit, n)
}
