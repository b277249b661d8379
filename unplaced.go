package herald

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// unplaced answers for a queue the catalog places on no pool: a queue that
// does not exist. Reads find nothing, deletes and purges delete nothing,
// settles under a claim fail with ErrMessageGone (M8, C3: a missing queue
// holds nothing), and claims claim nothing, as any store answers for a
// missing queue, so
// an unplaced queue needs no store round trip and no pool. Creating calls
// never reach it: they place the queue first.
type unplaced struct{}

var (
	_ store.Store      = unplaced{}
	_ store.Transactor = unplaced{}
)

func missing(ref store.QueueRef) error {
	return store.Errorf(ErrNotFound, "queue %q in project %q not found", ref.Name, ref.Project)
}

func (unplaced) CreateQueue(_ context.Context, p store.CreateQueueParams) (bool, error) {
	return false, store.Errorf(ErrInvalid, "queue %q in project %q: create through an unplaced queue", p.Queue.Name, p.Queue.Project)
}

func (unplaced) GetQueue(_ context.Context, p store.GetQueueParams) (store.QueueInfo, error) {
	return store.QueueInfo{}, missing(p.Queue)
}

func (unplaced) SetQueueMetadata(_ context.Context, p store.SetQueueMetadataParams) error {
	if _, err := store.CheckQueueMetadata(p.Queue.Name, p.Metadata); err != nil {
		return err
	}
	return missing(p.Queue)
}

func (unplaced) DeleteQueue(context.Context, store.DeleteQueueParams) error { return nil }

func (unplaced) ListQueues(context.Context, store.ListQueuesParams) ([]store.QueueInfo, error) {
	return nil, nil
}

func (unplaced) QueueStats(_ context.Context, p store.QueueStatsParams) (store.Stats, error) {
	return store.Stats{}, missing(p.Queue)
}

func (unplaced) PurgeQueue(context.Context, store.PurgeQueueParams) error { return nil }

func (unplaced) PostMessages(_ context.Context, p store.PostParams) ([]store.ID, error) {
	return nil, store.Errorf(ErrInvalid, "queue %q in project %q: post through an unplaced queue", p.Queue.Name, p.Queue.Project)
}

func (unplaced) ListMessages(context.Context, store.ListMessagesParams) ([]store.Message, error) {
	return nil, nil
}

func (unplaced) GetMessages(_ context.Context, p store.GetMessagesParams) ([]store.Message, error) {
	return nil, p.Check()
}

func (unplaced) DeleteMessages(_ context.Context, p store.DeleteMessagesParams) error {
	if err := p.Check(); err != nil {
		return err
	}
	if !p.Claim.IsZero() && len(p.IDs) > 0 {
		return store.Gone(p.IDs[0], p.Claim)
	}
	return nil
}

func (unplaced) PopMessages(context.Context, store.PopParams) ([]store.Message, error) {
	return nil, nil
}

func (unplaced) CreateClaim(_ context.Context, p store.CreateClaimParams) (store.ClaimResult, error) {
	if err := p.Check(); err != nil {
		return store.ClaimResult{}, err
	}
	if len(p.Delete) > 0 {
		return store.ClaimResult{}, store.Gone(p.Delete[0], p.DeleteClaim)
	}
	return store.ClaimResult{}, nil
}

func (unplaced) GetClaim(_ context.Context, p store.GetClaimParams) (store.ClaimInfo, []store.Message, error) {
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, nil, err
	}
	return store.ClaimInfo{}, nil, store.Errorf(ErrClaimNotFound, "claim %s in queue %q not found or expired", p.Claim, p.Queue.Name)
}

func (unplaced) RenewClaim(_ context.Context, p store.RenewClaimParams) (store.ClaimInfo, error) {
	if err := p.Check(); err != nil {
		return store.ClaimInfo{}, err
	}
	return store.ClaimInfo{}, store.Errorf(ErrClaimNotFound, "claim %s in queue %q not found or expired", p.Claim, p.Queue.Name)
}

func (unplaced) ReleaseClaim(_ context.Context, p store.ReleaseClaimParams) error { return p.Check() }

func (unplaced) Sweep(context.Context, store.SweepParams) (store.SweepResult, error) {
	return store.SweepResult{}, nil
}

func (unplaced) Close() error { return nil }

// Transact runs a transaction of deletes only, all on queues placed
// nowhere: they delete nothing (Service.Tx places the queues of posts),
// and a settle under a claim fails it (M8).
func (unplaced) Transact(_ context.Context, p store.TxParams) ([][]store.ID, error) {
	for i, op := range p.Ops {
		if len(op.Post) > 0 {
			return nil, store.OpError(i, store.Errorf(ErrInvalid, "queue %q in project %q: post through an unplaced queue", op.Queue.Name, op.Queue.Project))
		}
		if !op.Claim.IsZero() && len(op.Delete) > 0 {
			return nil, store.OpError(i, store.Gone(op.Delete[0], op.Claim))
		}
	}
	return make([][]store.ID, len(p.Ops)), nil
}

// A missing queue has no subscriptions and no deliveries.
var _ store.Subscriber = unplaced{}

func (unplaced) CreateSubscription(_ context.Context, p store.CreateSubscriptionParams) (store.Subscription, bool, error) {
	return store.Subscription{}, false, store.Errorf(ErrInvalid, "queue %q in project %q: subscribe through an unplaced queue", p.Queue.Name, p.Queue.Project)
}

func (unplaced) GetSubscription(_ context.Context, p store.GetSubscriptionParams) (store.Subscription, error) {
	return store.Subscription{}, store.Errorf(ErrNotFound, "subscription %s of queue %q not found", p.ID, p.Queue.Name)
}

func (unplaced) ListSubscriptions(context.Context, store.ListSubscriptionsParams) ([]store.Subscription, error) {
	return nil, nil
}

func (unplaced) UpdateSubscription(_ context.Context, p store.UpdateSubscriptionParams) (store.Subscription, error) {
	return store.Subscription{}, store.Errorf(ErrNotFound, "subscription %s of queue %q not found", p.ID, p.Queue.Name)
}

func (unplaced) DeleteSubscription(context.Context, store.DeleteSubscriptionParams) error { return nil }

func (unplaced) HasSubscriptions(context.Context, time.Time) (bool, error) { return false, nil }

func (unplaced) LeaseDeliveries(context.Context, store.LeaseDeliveriesParams) ([]store.Delivery, time.Time, error) {
	return nil, time.Time{}, nil
}

func (unplaced) SettleDelivery(context.Context, store.SettleDeliveryParams) error { return nil }

func (unplaced) ListFailedDeliveries(context.Context, store.ListFailedDeliveriesParams) ([]store.Delivery, error) {
	return nil, nil
}

func (unplaced) RetryFailedDeliveries(context.Context, store.RetryFailedDeliveriesParams) (int, error) {
	return 0, nil
}
