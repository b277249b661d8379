package herald

import (
	"context"

	"github.com/heraldmq/herald/store"
)

// Message is a stored message as a read returns it (an alias of
// store.Message). Its fields:
//
//	ID           ID        // ULID, increasing per queue in commit order (M2)
//	Body         []byte    // the posted bytes; the caller owns the slice
//	ClientID     string    // the poster's client id (M6 echo rule)
//	Created      time.Time
//	Expires      time.Time // end of life (M4); a claim may push it later (C2)
//	VisibleAt    time.Time // when a delayed or released message becomes claimable
//	ClaimID      ID        // the live claim holding it; zero if none
//	ClaimExpires time.Time
//	ClaimCount   int       // how many claims have taken it: the attempt number (C6)
//	Checksum     uint32    // CRC32C of Body, checked on every read (M11)
type Message = store.Message

// Draft is a message to post (an alias of store.Draft). Its fields:
//
//	Body    []byte        // copied on Post; at most Limits.MaxMessageSize (M3)
//	TTL     time.Duration // zero: the queue's _default_message_ttl, else Limits.DefaultMessageTTL (1 h)
//	Delay   time.Duration // hidden from claims this long (M5); zero: the queue's default, else none
//	DedupID string        // a repeat within Limits.DedupWindow stores nothing and returns the first ID (M10)
type Draft = store.Draft

// ListOptions shape a message listing (M6).
type ListOptions struct {
	// Marker is exclusive: the page starts after this ID. Zero starts at
	// the oldest message. Use the last message's ID of a page.
	Marker ID
	// Limit is the page size; zero means Limits.DefaultPageSize.
	Limit int
	// IncludeClaimed lists messages under a live claim too.
	IncludeClaimed bool
	// IncludeDelayed lists messages still hidden by a delay too.
	IncludeDelayed bool
	// Echo lists the handle's own client's messages too (see
	// Queue.WithClientID).
	Echo bool
}

// Post stores a batch of messages atomically and returns their IDs in input
// order, creating the queue if needed (M1, Q2). Every body is checked
// against Limits.MaxMessageSize and the batch against Limits.MaxPostSize and
// the queue's _max_messages_post_size (M3) before anything is written.
//
// With pools, a new queue is placed first (P2), with no flavor.
func (q *Queue) Post(ctx context.Context, drafts ...Draft) ([]ID, error) {
	if err := q.s.gate.Enter(); err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	if err := q.ref.Check(); err != nil {
		return nil, err
	}
	if err := q.s.limits.checkDrafts(drafts); err != nil {
		return nil, err
	}
	e, _, err := q.s.holdCached(ctx, q.ref, placement{}, &q.at)
	if err != nil {
		return nil, err
	}
	now := q.s.now()
	ids, err := e.pool.store.PostMessages(ctx, store.PostParams{
		Queue:         q.ref,
		Messages:      drafts,
		ClientID:      q.clientID,
		DefaultTTL:    q.s.limits.DefaultMessageTTL,
		DedupWindow:   q.s.limits.DedupWindow,
		ConfirmedOnly: q.s.notify.o.RequireConfirmation,
		Quota:         q.s.limits.quota(),
		Now:           now,
	})
	q.s.unhold(e)
	if err == nil {
		q.s.posted(q.ref, q.clientID, drafts, ids, now)
	}
	return ids, err
}

func (l *Limits) checkDrafts(drafts []Draft) error {
	if err := l.checkCount(len(drafts), "a post", "messages"); err != nil {
		return err
	}
	total := 0
	for i := range drafts {
		d := &drafts[i]
		if len(d.Body) > l.MaxMessageSize {
			return store.Errorf(ErrTooLarge, "message %d: body of %d bytes: more than %d", i, len(d.Body), l.MaxMessageSize)
		}
		total += len(d.Body)
		if err := l.checkMessageTTL(d.TTL); err != nil {
			return err
		}
		if err := l.checkDelay(d.Delay); err != nil {
			return err
		}
		if len(d.DedupID) > l.MaxDedupIDLen {
			return store.Errorf(ErrTooLarge, "message %d: dedup id of %d bytes: more than %d", i, len(d.DedupID), l.MaxDedupIDLen)
		}
	}
	if total > l.MaxPostSize {
		return store.Errorf(ErrTooLarge, "post of %d bytes: more than %d", total, l.MaxPostSize)
	}
	return nil
}

// List returns a page of messages, oldest first (M6). A missing queue gives
// an empty page.
func (q *Queue) List(ctx context.Context, o ListOptions) ([]Message, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	defer q.s.placeAside(ctx) // M11: a read may set damaged bodies aside
	if o.Limit, err = q.s.limits.pageSize(o.Limit); err != nil {
		return nil, err
	}
	return st.ListMessages(ctx, store.ListMessagesParams{
		Queue: q.ref, Marker: o.Marker, Limit: o.Limit,
		IncludeClaimed: o.IncludeClaimed, IncludeDelayed: o.IncludeDelayed,
		ClientID: q.clientID, Echo: o.Echo, Now: q.s.now(),
	})
}

// Get returns one message, claimed or delayed alike, or ErrNotFound (M7).
func (q *Queue) Get(ctx context.Context, id ID) (Message, error) {
	msgs, err := q.GetMany(ctx, id)
	if err != nil {
		return Message{}, err
	}
	if len(msgs) == 0 {
		return Message{}, store.Errorf(ErrNotFound, "message %s in queue %q not found", id, q.ref.Name)
	}
	return msgs[0], nil
}

// GetMany returns the messages with the given IDs that exist, in the order
// asked; missing ones are left out (M7).
func (q *Queue) GetMany(ctx context.Context, ids ...ID) ([]Message, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	defer q.s.placeAside(ctx) // M11: a read may set damaged bodies aside
	if err := q.s.limits.checkCount(len(ids), "a get", "ids"); err != nil {
		return nil, err
	}
	if err := store.CheckIDs("message id", ids...); err != nil {
		return nil, err
	}
	return st.GetMessages(ctx, store.GetMessagesParams{Queue: q.ref, IDs: ids, Now: q.s.now()})
}

// Delete deletes messages that are not under a live claim (M8). Missing
// messages are skipped, so a repeat is harmless (Claim.Delete, which
// settles under a claim, fails on them instead). If any message is under a
// live claim nothing is deleted and the error matches ErrClaimMismatch:
// delete those through their Claim.
func (q *Queue) Delete(ctx context.Context, ids ...ID) error {
	return q.deleteMessages(ctx, ids, ID{})
}

// ForceDelete deletes messages whatever their claim state: claimed ones
// leave their claims (Zaqar's bulk delete by ids). Missing messages are
// skipped. Prefer Delete or Claim.Delete, which honour claims (M8).
func (q *Queue) ForceDelete(ctx context.Context, ids ...ID) error {
	return q.deleteIDs(ctx, store.DeleteMessagesParams{IDs: ids, IgnoreClaims: true})
}

func (q *Queue) deleteMessages(ctx context.Context, ids []ID, claim ID) error {
	return q.deleteIDs(ctx, store.DeleteMessagesParams{IDs: ids, Claim: claim})
}

func (q *Queue) deleteIDs(ctx context.Context, p store.DeleteMessagesParams) error {
	st, err := q.begin(ctx)
	if err != nil {
		return err
	}
	defer q.s.gate.Leave()
	if err := q.s.limits.checkCount(len(p.IDs), "a delete", "ids"); err != nil {
		return err
	}
	if err := store.CheckIDs("message id", p.IDs...); err != nil {
		return err
	}
	p.Queue, p.Now = q.ref, q.s.now()
	return st.DeleteMessages(ctx, p)
}

// Pop takes and deletes up to n of the oldest free messages atomically
// (M9): at-most-once delivery.
func (q *Queue) Pop(ctx context.Context, n int) ([]Message, error) {
	st, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.s.gate.Leave()
	defer q.s.placeAside(ctx) // M11: a read may set damaged bodies aside
	if err := q.s.limits.checkCount(n, "a pop", "messages"); err != nil {
		return nil, err
	}
	return st.PopMessages(ctx, store.PopParams{Queue: q.ref, Limit: n, Now: q.s.now()})
}
