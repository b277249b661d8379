package herald_test

import (
	"context"
	"fmt"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
)

// Pools spread queues over several stores (here two memory stores; in
// production, bolt files on different disks). A flavor sends the queues
// that ask for it to its own pools; the rest go to the pools open to all.
func ExampleOptions_pools() {
	ctx := context.Background()
	svc, err := herald.New(herald.Options{Pools: []herald.Pool{
		{Name: "general", Store: memory.New(), Weight: 1},
		{Name: "durable", Store: memory.New(), Weight: 1, FlavorOnly: true},
	}})
	if err != nil {
		panic(err)
	}
	defer svc.Close()

	tenant := svc.Project("acme")
	err = tenant.SetFlavor(ctx, herald.Flavor{Name: "safe", Pools: []string{"durable"}, Capabilities: []string{"durable"}})
	if err != nil {
		panic(err)
	}
	ledger := tenant.Queue("ledger")
	_, err = ledger.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{Flavor: "safe"}))
	if err != nil {
		panic(err)
	}
	jobs := tenant.Queue("jobs")
	if _, err := jobs.Post(ctx, herald.Draft{Body: []byte("resize cat.png")}); err != nil {
		panic(err)
	}

	for _, q := range []*herald.Queue{ledger, jobs} {
		pool, err := q.Pool(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s is on %s\n", q.Name(), pool)
	}
	pools, err := svc.Pools(ctx)
	if err != nil {
		panic(err)
	}
	for _, p := range pools {
		fmt.Printf("pool %s: %d queue(s), %d message(s)\n", p.Name, p.Queues, p.Messages)
	}
	// Output:
	// ledger is on durable
	// jobs is on general
	// pool general: 1 queue(s), 1 message(s)
	// pool durable: 1 queue(s), 0 message(s)
}
