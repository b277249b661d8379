package store

import (
	"bytes"
	"encoding/json"
	"math"
	"time"
)

// The reserved queue metadata keys (Q3). Durations are whole seconds, sizes
// bytes, as in Zaqar.
const (
	KeyDefaultMessageTTL   = "_default_message_ttl"
	KeyDefaultMessageDelay = "_default_message_delay"
	KeyMaxPostSize         = "_max_messages_post_size"
	KeyMaxClaimCount       = "_max_claim_count"
	KeyDeadLetterQueue     = "_dead_letter_queue"
	KeyDeadLetterTTL       = "_dead_letter_queue_messages_ttl"
	KeyFlavor              = "_flavor"
)

// QueueOptions are the reserved metadata keys of a queue, typed. The zero
// value of every field means "not set".
type QueueOptions struct {
	// DefaultMessageTTL is the TTL of messages posted without one.
	DefaultMessageTTL time.Duration
	// DefaultMessageDelay is the delay of messages posted without one.
	DefaultMessageDelay time.Duration
	// MaxPostSize bounds the summed body bytes of one post batch.
	MaxPostSize int
	// MaxClaimCount and DeadLetterQueue together turn on dead-lettering
	// (C6): a message claimed MaxClaimCount times moves to DeadLetterQueue
	// on its next claim attempt. Zero (or an empty name) turns it off.
	// MaxClaimCount alone moves nothing and leaves claims unlimited, as
	// in Zaqar; herald's Consume still takes it as its attempt cap and
	// drops a message after that many failed attempts (J1).
	MaxClaimCount   int
	DeadLetterQueue string
	// DeadLetterTTL, if set, is the lifetime given to dead-lettered
	// messages, counted from the move. Zero keeps each message's own
	// expiry: by default one hour after it was posted, so a dead letter
	// nobody reads within the hour is gone.
	DeadLetterTTL time.Duration
	// Flavor names the flavor whose pools may hold the queue (P4).
	Flavor string
}

// DeadLettering reports whether claims move messages to a dead-letter queue.
func (o QueueOptions) DeadLettering() bool {
	return o.MaxClaimCount > 0 && o.DeadLetterQueue != ""
}

// maxSeconds keeps second counts convertible to time.Duration.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// ParseQueueOptions checks that meta is a JSON object (nil or empty means
// {}) whose reserved keys have the right types: whole non-negative numbers
// for durations, sizes and counts, a valid queue name for the dead-letter
// queue, a string for the flavor; null means not set. Ranges against the
// service's limits are the caller's to check. Errors match
// ErrInvalidMetadata.
func ParseQueueOptions(meta json.RawMessage) (QueueOptions, error) {
	var o QueueOptions
	if len(bytes.TrimSpace(meta)) == 0 {
		return o, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil || m == nil {
		return o, Errorf(ErrInvalidMetadata, "metadata is not a JSON object")
	}
	var err error
	seconds := func(key string, dst *time.Duration) {
		if n, e := wholeNumber(m, key, maxSeconds); e != nil {
			err = e
		} else {
			*dst = time.Duration(n) * time.Second
		}
	}
	count := func(key string, dst *int) {
		if n, e := wholeNumber(m, key, math.MaxInt32); e != nil {
			err = e
		} else {
			*dst = int(n)
		}
	}
	text := func(key string, dst *string) {
		if s, e := stringValue(m, key); e != nil {
			err = e
		} else {
			*dst = s
		}
	}
	seconds(KeyDefaultMessageTTL, &o.DefaultMessageTTL)
	seconds(KeyDefaultMessageDelay, &o.DefaultMessageDelay)
	seconds(KeyDeadLetterTTL, &o.DeadLetterTTL)
	count(KeyMaxPostSize, &o.MaxPostSize)
	count(KeyMaxClaimCount, &o.MaxClaimCount)
	text(KeyDeadLetterQueue, &o.DeadLetterQueue)
	text(KeyFlavor, &o.Flavor)
	if err != nil {
		return QueueOptions{}, err
	}
	if o.DeadLetterQueue != "" {
		if e := CheckQueueName(o.DeadLetterQueue); e != nil {
			return QueueOptions{}, Errorf(ErrInvalidMetadata, "%s: %v", KeyDeadLetterQueue, e)
		}
	}
	return o, nil
}

// CheckQueueMetadata parses meta for the queue self and also refuses a
// queue that is its own dead-letter queue.
func CheckQueueMetadata(self string, meta json.RawMessage) (QueueOptions, error) {
	o, err := ParseQueueOptions(meta)
	if err == nil && o.DeadLetterQueue == self {
		return QueueOptions{}, Errorf(ErrInvalidMetadata, "%s %q: a queue cannot be its own dead-letter queue", KeyDeadLetterQueue, self)
	}
	return o, err
}

func wholeNumber(m map[string]json.RawMessage, key string, max int64) (int64, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < 0 || f > float64(max) {
		return 0, Errorf(ErrInvalidMetadata, "%s %s: want a whole number from 0 to %d", key, raw, max)
	}
	return int64(f), nil
}

func stringValue(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", Errorf(ErrInvalidMetadata, "%s %s: want a string", key, raw)
	}
	return s, nil
}
