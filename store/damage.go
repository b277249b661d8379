package store

import (
	"context"
	"time"
)

// Damaged messages (M11). A message whose stored body no longer matches
// its checksum is never returned and never stops its queue: the first call
// that meets it (claim, pop, list, get, a claim's lookup, a delete-and-
// claim) leaves it out, returns the healthy messages around it, and sets
// it aside — in the same transaction when the call writes, or in a write
// of its own right after a read. Set aside, it is out of the queue (its
// claim, if any, no longer holds it) and is kept, with its raw bytes, in a
// damaged set that Stats.Damaged counts and DamageKeeper lists.
//
// A queue with a dead-letter queue (_dead_letter_queue naming another
// queue) sets its damaged messages aside in the dead-letter queue's
// damaged set, with Queue naming where they came from: that is what
// dead-lettering means for a body that cannot be trusted. It never enters
// the dead-letter queue's message flow, where a consumer would take the
// bad bytes for the message.

// DamagedMessage is a message set aside because its body failed its
// checksum.
type DamagedMessage struct {
	ID ID
	// Queue is the queue the message was in: the queue whose damaged set
	// holds it, or the queue whose dead-letter queue's set does.
	Queue   string
	Created time.Time
	// Found is when it was set aside.
	Found time.Time
	// Body is the body as stored. It fails Checksum: do not trust it.
	Body []byte
	// Checksum is the CRC32C recorded when the message was posted.
	Checksum uint32
}

// ListDamagedParams are the arguments of DamageKeeper.ListDamaged.
type ListDamagedParams struct {
	Queue QueueRef
	// Marker is exclusive: the listing starts after it. Zero starts at the
	// oldest.
	Marker ID
	// Limit is 1..MaxLimit.
	Limit int
}

// DeleteDamagedParams are the arguments of DamageKeeper.DeleteDamaged.
type DeleteDamagedParams struct {
	Queue QueueRef
	// IDs are the damaged messages to forget; missing ones are skipped.
	IDs []ID
}

// DamageKeeper is the optional ability of a Store to show and forget the
// damaged messages it set aside. Stores that verify checksums (memory,
// bolt) implement it; find it by type assertion.
type DamageKeeper interface {
	// ListDamaged returns up to Limit damaged messages of a queue's
	// damaged set after Marker, in ID order. A missing queue has none.
	ListDamaged(ctx context.Context, p ListDamagedParams) ([]DamagedMessage, error)
	// DeleteDamaged forgets damaged messages for good.
	DeleteDamaged(ctx context.Context, p DeleteDamagedParams) error
	// OnDamage makes the store call fn with each batch of messages it sets
	// aside, once that is durable, naming the queue whose damaged set took
	// them. fn runs on the goroutine of some call into the store (not
	// necessarily the one that met the damage) and must not block or call
	// the store. Nil turns it off.
	OnDamage(fn func(q QueueRef, ms []DamagedMessage))
}

// Check validates p.
func (p ListDamagedParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckLimit(p.Limit, "damaged list limit")
}

// Intact reports whether body still matches sum (M11).
func Intact(body []byte, sum uint32) bool { return Checksum(body) == sum }
