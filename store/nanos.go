package store

import (
	"math"
	"time"
)

// Backends keep times as int64 Unix nanoseconds (in keys, records and
// indexes); these helpers are the arithmetic every backend needs, in one
// place so that every backend rounds and clamps alike.

// Nanos returns t as Unix nanoseconds, clamped to the int64 range.
func Nanos(t time.Time) int64 {
	s := t.Unix()
	switch {
	case s <= math.MinInt64/int64(time.Second)+1:
		return math.MinInt64
	case s >= math.MaxInt64/int64(time.Second)-1:
		if t.After(time.Unix(0, math.MaxInt64)) {
			return math.MaxInt64
		}
	}
	return t.UnixNano()
}

// AddNanos returns t+d clamped to math.MaxInt64 (d >= 0).
func AddNanos(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

// Overflows reports whether t+d does not fit in int64 (d >= 0).
func Overflows(t int64, d time.Duration) bool { return t > math.MaxInt64-int64(d) }

// CheckClaimTimes checks a claim's TTL (more than zero) and grace (at least
// zero), with ErrInvalidTTL (C2, C4).
func CheckClaimTimes(ttl, grace time.Duration) error {
	if ttl <= 0 {
		return Errorf(ErrInvalidTTL, "claim ttl %v: must be more than zero", ttl)
	}
	if grace < 0 {
		return Errorf(ErrInvalidTTL, "claim grace %v: negative", grace)
	}
	return nil
}

// ClaimDeadline returns now+ttl, or ErrInvalidTTL if now+ttl+grace would
// overflow (M4: never an overflowing deadline).
func ClaimDeadline(now int64, ttl, grace time.Duration) (int64, error) {
	if Overflows(now, ttl) || Overflows(now+int64(ttl), grace) {
		return 0, Errorf(ErrInvalidTTL, "claim ttl %v and grace %v: deadline overflows", ttl, grace)
	}
	return now + int64(ttl), nil
}

// MessageTTL resolves a draft's lifetime as Draft.TTL documents: the
// draft's own, else the queue's _default_message_ttl, else fallback (the
// caller's PostParams.DefaultTTL), else DefaultMessageTTL.
func (o QueueOptions) MessageTTL(d Draft, fallback time.Duration) time.Duration {
	for _, ttl := range []time.Duration{d.TTL, o.DefaultMessageTTL, fallback} {
		if ttl > 0 {
			return ttl
		}
	}
	return DefaultMessageTTL
}

// MessageDelay resolves a draft's delay: its own, else the queue's
// _default_message_delay.
func (o QueueOptions) MessageDelay(d Draft) time.Duration {
	if d.Delay == 0 {
		return o.DefaultMessageDelay
	}
	return d.Delay
}
