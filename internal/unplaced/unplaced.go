// Package unplaced is the store a pooled herald Service routes a queue to
// when its catalog places the queue on no pool: a queue that does not
// exist, answered without a store round trip.
package unplaced

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// Store answers for a queue the catalog places on no pool: a queue that
// does not exist. Reads find nothing, deletes and purges delete nothing,
// settles under a claim fail with store.ErrMessageGone (M8, C3: a missing queue
// holds nothing), and claims claim nothing, as any store answers for a
// missing queue, so
// an unplaced queue needs no store round trip and no pool. Creating calls
// never reach it: they place the queue first.
type Store struct{}

var (
	_ store.Store      = Store{}
	_ store.Transactor = Store{}
)

// Missing is the error for a queue that does not exist.
func Missing(ref store.QueueRef) error {
	return store.Errorf(store.ErrNotFound, "queue %q in project %q not found", ref.Name, ref.Project)
}

func (Store) CreateQueue(_ context.Context, p store.CreateQueueParams) (bool, error) {
	return false, store.Errorf(store.ErrInvalid, "queue %q in project %q: create through a queue placed nowhere", p.Queue.Name, p.Queue.Project)
}

func (Store) GetQueue(_ context.Context, p store.GetQueueParams) (store.QueueInfo, error) {
	return store.QueueInfo{}, Missing(p.Queue)
}

func (Store) SetQueueMetadata(_ context.Context, p store.SetQueueMetadataParams) error {
	if _, err := store.CheckQueueMetadata(p.Queue.Name, p.Metadata); err != nil {
		return err
	}
	return Missing(p.Queue)
}

func (Store) DeleteQueue(context.Context, store.DeleteQueueParams) error { return nil }

func (Store) ListQueues(context.Context, store.ListQueuesParams) ([]store.QueueInfo, error) {
	return nil, nil
}

func (Store) QueueStats(_ context.Context, p store.QueueStatsParams) (store.Stats, error) {
	return store.Stats{}, Missing(p.Queue)
}

func (Store) PurgeQueue(context.Context, store.PurgeQueueParams) error { return nil }

func (Store) PostMessages(_ context.Context, p store.PostParams) ([]store.ID, error) {
	return nil, store.Errorf(store.ErrInvalid, "queue %q in project %q: post through a queue placed nowhere", p.Queue.Name, p.Queue.Project)
}

func (Store) ListMessages(context.Context, store.ListMessagesParams) ([]store.Message, error) {
	return nil, nil
}

func (Store) GetMessages(_ context.Context, p store.GetMessagesParams) ([]store.Message, error) {
	return nil, p.Check()
}

func (Store) DeleteMessages(_ context.Context, p store.DeleteMessagesParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	if !p.Claim.IsZero() && len(p.IDs) > 0 {
		return store.Gone(p.IDs[0], p.Claim)
	}
	return nil
}

func (Store) PopMessages(context.Context, store.PopParams) ([]store.Message, error) {
	return nil, nil
}

func (Store) CreateClaim(_ context.Context, p store.CreateClaimParams) (store.ClaimResult, error) {
	if err := p.Check(); err != nil {
		return store.ClaimResult{}, err
	}
	if len(p.Delete) > 0 {
		return store.ClaimResult{}, store.Gone(p.Delete[0], p.DeleteClaim)
	}
	return store.ClaimResult{}, nil
}

func (Store) GetClaim(_ context.Context, p store.GetClaimParams) (store.ClaimInfo, []store.Message, error) {
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	return store.ClaimInfo{}, nil, store.Errorf(store.ErrClaimNotFound, "claim %s in queue %q not found or expired", p.Claim, p.Queue.Name)
}

func (Store) RenewClaim(_ context.Context, p store.RenewClaimParams) (store.ClaimInfo, error) {
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, err
	}
	return store.ClaimInfo{}, store.Errorf(store.ErrClaimNotFound, "claim %s in queue %q not found or expired", p.Claim, p.Queue.Name)
}

func (Store) ReleaseClaim(_ context.Context, p store.ReleaseClaimParams) error { return p.Check() }

func (Store) Sweep(context.Context, store.SweepParams) (store.SweepResult, error) {
	return store.SweepResult{}, nil
}

func (Store) Close() error { return nil }

// Transact runs a transaction of deletes only, all on queues placed
// nowhere: they delete nothing (Service.Tx places the queues of posts),
// and a settle under a claim fails it (M8).
func (Store) Transact(_ context.Context, p store.TxParams) ([][]store.ID, error) {
	for i, op := range p.Ops {
		if len(op.Post) > 0 {
			return nil, store.OpError(i, store.Errorf(store.ErrInvalid, "queue %q in project %q: post through a queue placed nowhere", op.Queue.Name, op.Queue.Project))
		}
		if !op.Claim.IsZero() && len(op.Delete) > 0 {
			return nil, store.OpError(i, store.Gone(op.Delete[0], op.Claim))
		}
	}
	return make([][]store.ID, len(p.Ops)), nil
}

// A missing queue has no subscriptions and no deliveries.
var _ store.Subscriber = Store{}

func (Store) CreateSubscription(_ context.Context, p store.CreateSubscriptionParams) (store.Subscription, bool, error) {
	return store.Subscription{}, false, store.Errorf(store.ErrInvalid, "queue %q in project %q: subscribe through a queue placed nowhere", p.Queue.Name, p.Queue.Project)
}

func (Store) GetSubscription(_ context.Context, p store.GetSubscriptionParams) (store.Subscription, error) {
	return store.Subscription{}, store.Errorf(store.ErrNotFound, "subscription %s of queue %q not found", p.ID, p.Queue.Name)
}

func (Store) ListSubscriptions(context.Context, store.ListSubscriptionsParams) ([]store.Subscription, error) {
	return nil, nil
}

func (Store) UpdateSubscription(_ context.Context, p store.UpdateSubscriptionParams) (store.Subscription, error) {
	return store.Subscription{}, store.Errorf(store.ErrNotFound, "subscription %s of queue %q not found", p.ID, p.Queue.Name)
}

func (Store) DeleteSubscription(context.Context, store.DeleteSubscriptionParams) error { return nil }

func (Store) HasSubscriptions(context.Context, time.Time) (bool, error) { return false, nil }

func (Store) LeaseDeliveries(context.Context, store.LeaseDeliveriesParams) ([]store.Delivery, time.Time, error) {
	return nil, time.Time{}, nil
}

func (Store) SettleDelivery(context.Context, store.SettleDeliveryParams) error { return nil }

func (Store) ListFailedDeliveries(context.Context, store.ListFailedDeliveriesParams) ([]store.Delivery, error) {
	return nil, nil
}

func (Store) RetryFailedDeliveries(context.Context, store.RetryFailedDeliveriesParams) (int, error) {
	return 0, nil
}
