package store

import (
	"encoding/json"
	"time"
)

// QueueRef names a queue within a project (T1). The empty project is the
// default project.
type QueueRef struct {
	Project string
	Name    string
}

// Check validates the project id (T1) and the queue name (Q1).
func (r QueueRef) Check() error {
	if err := CheckProject(r.Project); err != nil {
		return err
	}
	return CheckQueueName(r.Name)
}

// QueueInfo describes a queue.
type QueueInfo struct {
	Name string
	// Metadata is the queue's JSON object; nil when not asked for. A
	// queue without metadata reads as {}, never empty, since callers hand
	// what they read back as SetQueueMetadataParams.Expected, where empty
	// means unconditional.
	Metadata json.RawMessage
	Created  time.Time
}

// Message is a stored message as of the Now of the call that read it.
type Message struct {
	ID ID
	// Body is the message body. Stores return a slice the caller owns.
	Body []byte
	// ClientID is the client that posted the message (M6 echo rule).
	ClientID string
	Created  time.Time
	// Expires is when the message stops existing (M4). Claims may push it
	// later (C2); a dead-letter move may reset it (C6).
	Expires time.Time
	// VisibleAt is when a delayed or released message becomes claimable
	// (M5, C5); at or before Created when it never was delayed.
	VisibleAt time.Time
	// ClaimID is the live claim holding the message, zero if none. An
	// expired claim is never reported.
	ClaimID      ID
	ClaimExpires time.Time
	// ClaimCount is how many claims have taken the message (C6).
	ClaimCount int
	// Checksum is the CRC32C of Body, verified on every read (M11).
	Checksum uint32
}

// ClaimInfo describes a live claim.
type ClaimInfo struct {
	ID    ID
	TTL   time.Duration
	Grace time.Duration
	// Updated is when the claim was created or last renewed.
	Updated time.Time
	Expires time.Time
}

// MessageRef names a message and its creation time, for stats.
type MessageRef struct {
	ID      ID
	Created time.Time
}

// Stats counts a queue's messages as of Now (Q5). Every unexpired message is
// in exactly one of Free, Claimed and Delayed, so Free+Claimed+Delayed ==
// Total. Oldest and Newest are nil when Total is 0.
type Stats struct {
	// Free messages can be claimed now.
	Free int64
	// Claimed messages are under a live claim.
	Claimed int64
	// Delayed messages are unclaimed but not yet visible (M5, C5).
	Delayed int64
	Total   int64
	// Damaged counts the messages set aside in this queue's damaged set
	// because their bodies failed their checksums (M11; see
	// DamagedMessage). They are not in Total.
	Damaged int64
	Oldest  *MessageRef
	Newest  *MessageRef
}

// ClaimResult is what CreateClaim returns.
type ClaimResult struct {
	// Claim is the new claim; zero when Messages is empty (no claim made).
	Claim    ClaimInfo
	Messages []Message
	// NextReady is, when Messages is empty, the earliest time at which a
	// message of the queue may become claimable (a delay or a claim ends);
	// zero when nothing is pending. Blocking claimers sleep until then (C7).
	NextReady time.Time
	// DeadLettered counts messages moved to DeadLetterQueue by this call
	// (C6) instead of being claimed.
	DeadLettered    int
	DeadLetterQueue string
	// DeadLetters names each message a C6 move took, in the order moved,
	// so that the caller can log them.
	DeadLetters []DeadLetter
}

// DeadLetter is one message CreateClaim moved to the dead-letter queue.
type DeadLetter struct {
	// ID was the message's ID in the claimed queue; NewID is its ID in
	// the dead-letter queue.
	ID, NewID ID
	// ClaimCount is how many claims had taken the message.
	ClaimCount int
}

// SweepResult counts what a Sweep removed.
type SweepResult struct {
	Messages int
	Claims   int
	Dedup    int
	// Subscriptions counts expired subscriptions removed (stores that
	// implement Subscriber).
	Subscriptions int
	// More reports that the sweep stopped at its limit with work left.
	More bool
}
