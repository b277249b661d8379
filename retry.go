package herald

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/heraldmq/herald/store"
)

// Backoff is the delay before a failed message is tried again: Min for the
// first retry, times Factor for each attempt after, at most Max, less a
// random fraction up to Jitter so that messages that failed together do not
// all come back at once. The zero Backoff is 1 s doubling to 5 minutes
// with 20 % jitter.
type Backoff struct {
	// Min is the delay after the first attempt. Zero means 1 s.
	Min time.Duration
	// Max caps the delay; it may not exceed Limits.MaxMessageDelay. Zero
	// means 5 minutes, or Limits.MaxMessageDelay if that is less.
	Max time.Duration
	// Factor multiplies the delay per attempt, at least 1. Zero means 2.
	Factor float64
	// Jitter is the largest fraction of a delay taken off at random, in
	// 0..1. Zero means 0.2; negative means none.
	Jitter float64
}

// Delay returns the delay before the retry that follows the given attempt
// (1 for the first). Zero fields take their defaults.
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.filled(DefaultLimits().MaxMessageDelay)
	d := float64(b.Min)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d -= d * b.Jitter * rand.Float64()
	}
	return time.Duration(d)
}

// withDefaults fills zero fields and checks the rest against maxDelay, the
// longest delay a release may ask.
func (b Backoff) withDefaults(maxDelay time.Duration) (Backoff, error) {
	b = b.filled(maxDelay)
	switch {
	case b.Min < 0 || b.Max < b.Min:
		return b, store.Errorf(ErrInvalidDelay, "backoff %v..%v: want 0 <= min <= max", b.Min, b.Max)
	case b.Max > maxDelay:
		return b, store.Errorf(ErrInvalidDelay, "backoff max %v: over the longest delay %v", b.Max, maxDelay)
	case !(b.Factor >= 1) || math.IsInf(b.Factor, 0): // NaN fails every comparison
		return b, store.Errorf(ErrInvalidDelay, "backoff factor %v: want a number from 1", b.Factor)
	case math.IsNaN(b.Jitter) || b.Jitter > 1:
		return b, store.Errorf(ErrInvalidDelay, "backoff jitter %v: want at most 1", b.Jitter)
	}
	return b, nil
}

// filled returns b with zero fields set to their defaults.
func (b Backoff) filled(maxDelay time.Duration) Backoff {
	if b.Min == 0 {
		b.Min = time.Second
	}
	if b.Max == 0 {
		b.Max = max(min(5*time.Minute, maxDelay), b.Min)
	}
	if b.Factor == 0 {
		b.Factor = 2
	}
	if b.Jitter == 0 {
		b.Jitter = 0.2 // negative stays: none
	}
	return b
}

// RetryAfter wraps a handler's error to have its message tried again after
// exactly d instead of the backoff (capped at Limits.MaxMessageDelay). A
// zero d retries at once. A negative d (a deadline already past, say)
// means the backoff's delay, as for an unwrapped error: taking it as zero
// would retry a message that keeps failing in a hot loop. A nil err still
// asks for the retry. Attempts stay capped by ConsumeOptions.MaxAttempts.
func RetryAfter(err error, d time.Duration) error {
	if d < 0 {
		return &retryError{err: err, backoff: true}
	}
	return &retryError{err: err, delay: d}
}

// Permanent wraps a handler's error to say that trying again cannot help:
// the message goes to the queue's dead-letter queue if it has one, and is
// deleted otherwise. Permanent(nil) is nil, like the nil error it wraps:
// the handler succeeded and its message is deleted.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, permanent: true}
}

type retryError struct {
	err       error
	delay     time.Duration
	backoff   bool // RetryAfter with a negative delay
	permanent bool
}

func (e *retryError) Error() string {
	var what string
	switch {
	case e.permanent:
		what = "permanent"
	case e.backoff:
		what = "retry after the backoff"
	default:
		what = fmt.Sprintf("retry after %v", e.delay)
	}
	if e.err == nil {
		return what
	}
	return what + ": " + e.err.Error()
}

func (e *retryError) Unwrap() error { return e.err }

// retryOf says what a handler's error asks for: no retry, or a retry
// after a delay (the backoff's when the handler named none).
func retryOf(err error, b Backoff, attempt int, maxDelay time.Duration) (delay time.Duration, retry bool) {
	var r *retryError
	switch {
	case !errors.As(err, &r) || r.backoff:
		return b.Delay(attempt), true
	case r.permanent:
		return 0, false
	default:
		return min(r.delay, maxDelay), true
	}
}
