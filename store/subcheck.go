package store

import (
	"bytes"
	"encoding/json"
	"time"
)

// MaxSubscriberLen bounds Subscription.Subscriber: a URI or a handler name
// (S1), never a payload.
const MaxSubscriberLen = 1024

// The checks of the Subscriber params that need no stored state, shared by
// every backend so that they refuse bad input alike, before any write. A
// TTL's deadline is checked by the store against its own clock (which never
// goes backwards) with CheckSubscriptionDeadline.

// CheckSubscriber reports ErrInvalid unless s is 1 to MaxSubscriberLen
// bytes.
func CheckSubscriber(s string) error {
	switch {
	case s == "":
		return Errorf(ErrInvalid, "subscriber is empty")
	case len(s) > MaxSubscriberLen:
		return Errorf(ErrInvalid, "subscriber %.32q…: longer than %d bytes", s, MaxSubscriberLen)
	}
	return nil
}

// CheckSubscriptionTTL reports ErrInvalidTTL unless ttl is more than zero.
func CheckSubscriptionTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return Errorf(ErrInvalidTTL, "subscription ttl %v: must be more than zero", ttl)
	}
	return nil
}

// CheckSubscriptionDeadline reports ErrInvalidTTL if now+ttl (Unix ns)
// overflows (M4: never an overflowing deadline).
func CheckSubscriptionDeadline(now int64, ttl time.Duration) error {
	if Overflows(now, ttl) {
		return Errorf(ErrInvalidTTL, "subscription ttl %v: deadline overflows", ttl)
	}
	return nil
}

// SubscriptionOptions checks that opts is a JSON object (nil or blank
// means {}) and returns a copy the store may keep, with ErrInvalidMetadata
// otherwise.
func SubscriptionOptions(opts json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(opts)) == 0 {
		return json.RawMessage("{}"), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(opts, &m); err != nil || m == nil {
		return nil, Errorf(ErrInvalidMetadata, "subscription options are not a JSON object")
	}
	return bytes.Clone(opts), nil
}

// Check validates everything of p but the deadline of its TTL, and returns
// its options as SubscriptionOptions does.
func (p *CreateSubscriptionParams) Check() (json.RawMessage, error) {
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := CheckSubscriber(p.Subscriber); err != nil {
		return nil, err
	}
	if err := CheckSubscriptionTTL(p.TTL); err != nil {
		return nil, err
	}
	return SubscriptionOptions(p.Options)
}

// Check validates everything p sets but the deadline of its TTL, and
// returns its options as SubscriptionOptions does, or nil when p leaves
// them alone.
func (p *UpdateSubscriptionParams) Check() (json.RawMessage, error) {
	if err := p.Queue.Check(); err != nil {
		return nil, err
	}
	if err := CheckIDs("subscription id", p.ID); err != nil {
		return nil, err
	}
	if p.Subscriber != nil {
		if err := CheckSubscriber(*p.Subscriber); err != nil {
			return nil, err
		}
	}
	if p.TTL != nil {
		if err := CheckSubscriptionTTL(*p.TTL); err != nil {
			return nil, err
		}
	}
	if p.Options == nil {
		return nil, nil
	}
	return SubscriptionOptions(p.Options)
}

// Check validates p: Limit at least 1 (ErrInvalidLimit), Lease more than
// zero (ErrInvalidTTL).
func (p *LeaseDeliveriesParams) Check() error {
	if err := CheckLimit(p.Limit, "lease limit"); err != nil {
		return err
	}
	if p.Lease <= 0 {
		return Errorf(ErrInvalidTTL, "delivery lease %v: must be more than zero", p.Lease)
	}
	if p.PerProject < 0 {
		return Errorf(ErrInvalidLimit, "lease per project %d: negative", p.PerProject)
	}
	return nil
}

// Check validates p's queue and outcome.
func (p *SettleDeliveryParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	switch p.Outcome {
	case Delivered, Retry, Failed:
		return nil
	}
	return Errorf(ErrInvalid, "delivery outcome %d: want Delivered, Retry or Failed", p.Outcome)
}

// Check validates p's queue and limit.
func (p *ListFailedDeliveriesParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckLimit(p.Limit, "failed delivery list limit")
}
