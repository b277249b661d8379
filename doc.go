// Package herald gives a Go program durable, multi-tenant message queues
// inside its own process: OpenStack Zaqar's model (queues, messages, claims,
// dead-letter queues; itself modelled on Amazon SQS) as a plain Go API over
// a pluggable store.
//
// A Service wraps a store.Store — memory.New() for tests and ephemeral
// work, a bolt file for durable work on one machine — and runs the
// background sweeper and claim scheduler. Projects partition queues between
// tenants; a Queue handle posts, lists, pops and claims messages; a Claim is
// a lease whose messages are deleted through it once processed, or come back
// when it expires (at-least-once delivery).
//
//	svc, err := herald.New(herald.Options{Store: memory.New()})
//	defer svc.Close()
//	jobs := svc.Queue("jobs")
//	jobs.Post(ctx, herald.Draft{Body: []byte("resize 42.png")})
//	c, err := jobs.Claim(ctx, herald.ClaimOptions{Wait: time.Second})
//	for _, m := range c.Messages { work(m); c.Delete(ctx, m.ID) }
//
// Most programs run workers with Queue.Consume: a pool of handlers fed by
// blocking claims, with lease heartbeats, retries after an exponential
// backoff, dead-lettering and a graceful stop. Service.Tx posts and deletes
// on several queues in one atomic step (consume-transform-produce).
//
// A Service may also spread its queues over several stores, its pools
// (Options.Pools): each new queue is placed on one, at random in
// proportion to the pools' weights or among the pools of the flavor it
// asks for, and stays there. The catalog of placements and flavors lives
// in a management store, so it survives restarts; pools can be added,
// re-weighted and removed while the Service runs. Operations that need
// two queues in one step (Service.Tx, dead-letter moves) need them on one
// pool: ErrCrossPool otherwise.
//
// Fan-out, where every reader sees every message: durable fan-out is
// List with a marker per reader (M6), each paging at its own pace and
// losing nothing; Queue.Subscribe pushes to webhooks and mail, durably.
// Queue.Observe is instant in-process fan-out that is neither durable nor
// lossless: an observer that falls behind drops messages
// (Observation.Dropped counts them).
//
// Bad input returns an error matching ErrInvalid (and, where one fits, a
// more specific child) and changes nothing. The numbered rules cited in the docs (Q1, M4,
// C3 …) are herald's design rules, defined in DESIGN.md at the root of the
// repository (https://github.com/heraldmq/herald/blob/main/DESIGN.md);
// each is proven by the store conformance suite in store/storetest or by
// the tests TESTING.md lists.
package herald
