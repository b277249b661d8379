package herald

import (
	"encoding/json"
	"time"

	"github.com/heraldmq/herald/store"
)

// Metadata is a queue's free-form JSON object (Q3). Keys that start with
// an underscore are reserved; herald validates and acts on the ones
// QueueOptions names.
type Metadata map[string]any

// QueueOptions are a queue's reserved metadata keys, typed, so Go callers
// never hand-write them (an alias of store.QueueOptions; Queue.Options
// reads them, Metadata.WithOptions writes them). The zero value of a field means
// "not set". Its fields and the keys they stand for:
//
//	DefaultMessageTTL   time.Duration // _default_message_ttl
//	DefaultMessageDelay time.Duration // _default_message_delay
//	MaxPostSize         int           // _max_messages_post_size
//	MaxClaimCount       int           // _max_claim_count (C6)
//	DeadLetterQueue     string        // _dead_letter_queue (C6)
//	DeadLetterTTL       time.Duration // _dead_letter_queue_messages_ttl, counted from the move; unset: the message keeps its own expiry (C6)
//	Flavor              string        // _flavor (P4)
type QueueOptions = store.QueueOptions

// WithOptions returns a copy of m with o's set fields written as their
// reserved keys. Zero fields are left out.
func (m Metadata) WithOptions(o QueueOptions) Metadata {
	out := make(Metadata, len(m)+7)
	for k, v := range m {
		out[k] = v
	}
	seconds := func(k string, d time.Duration) {
		if d != 0 {
			out[k] = int64(d / time.Second)
		}
	}
	seconds(store.KeyDefaultMessageTTL, o.DefaultMessageTTL)
	seconds(store.KeyDefaultMessageDelay, o.DefaultMessageDelay)
	seconds(store.KeyDeadLetterTTL, o.DeadLetterTTL)
	if o.MaxPostSize != 0 {
		out[store.KeyMaxPostSize] = o.MaxPostSize
	}
	if o.MaxClaimCount != 0 {
		out[store.KeyMaxClaimCount] = o.MaxClaimCount
	}
	if o.DeadLetterQueue != "" {
		out[store.KeyDeadLetterQueue] = o.DeadLetterQueue
	}
	if o.Flavor != "" {
		out[store.KeyFlavor] = o.Flavor
	}
	return out
}

// encodeMetadata validates m for the queue named self against the limits
// and returns its JSON. nil encodes as {}.
func (l *Limits) encodeMetadata(self string, m Metadata) (json.RawMessage, error) {
	if m == nil {
		m = Metadata{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, store.Errorf(ErrInvalidMetadata, "metadata: %v", err)
	}
	if len(raw) > l.MaxMetadataSize {
		return nil, store.Errorf(ErrInvalidMetadata, "metadata of %d bytes: more than %d", len(raw), l.MaxMetadataSize)
	}
	o, err := store.CheckQueueMetadata(self, raw)
	if err != nil {
		return nil, err
	}
	if err := l.checkQueueOptions(o); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkQueueOptions checks reserved values against the limits.
func (l *Limits) checkQueueOptions(o QueueOptions) error {
	bad := func(key string, v any, lo, hi any) error {
		return store.Errorf(ErrInvalidMetadata, "%s must be %v to %v, got %v", key, lo, hi, v)
	}
	switch {
	case o.DefaultMessageTTL != 0 && !between(o.DefaultMessageTTL, l.MinMessageTTL, l.MaxMessageTTL):
		return bad(store.KeyDefaultMessageTTL, o.DefaultMessageTTL, l.MinMessageTTL, l.MaxMessageTTL)
	case o.DeadLetterTTL != 0 && !between(o.DeadLetterTTL, l.MinMessageTTL, l.MaxMessageTTL):
		return bad(store.KeyDeadLetterTTL, o.DeadLetterTTL, l.MinMessageTTL, l.MaxMessageTTL)
	case o.DefaultMessageDelay > l.MaxMessageDelay:
		return bad(store.KeyDefaultMessageDelay, o.DefaultMessageDelay, 0, l.MaxMessageDelay)
	case o.MaxPostSize > l.MaxPostSize:
		return bad(store.KeyMaxPostSize, o.MaxPostSize, 1, l.MaxPostSize)
	}
	return nil
}

func decodeMetadata(raw json.RawMessage) (Metadata, error) {
	m := Metadata{}
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, store.Errorf(ErrCorrupt, "queue metadata: %v", err)
	}
	return m, nil
}
