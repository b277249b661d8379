package herald_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
)

// A producer posts jobs; a worker claims them, does the work and deletes
// each one through its claim. A job whose worker dies comes back when the
// claim expires.
func Example() {
	ctx := context.Background()
	svc, err := herald.New(herald.Options{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	defer svc.Close()

	jobs := svc.Queue("jobs")
	_, err = jobs.Post(ctx,
		herald.Draft{Body: []byte("resize cat.png")},
		herald.Draft{Body: []byte("resize dog.png")},
	)
	if err != nil {
		panic(err)
	}

	claim, err := jobs.Claim(ctx, herald.ClaimOptions{TTL: time.Minute, Wait: time.Second})
	if err != nil {
		panic(err)
	}
	for _, m := range claim.Messages {
		fmt.Println("working on", string(m.Body))
		if err := claim.Delete(ctx, m.ID); err != nil {
			panic(err)
		}
	}
	st, _ := jobs.Stats(ctx)
	fmt.Println("left:", st.Total)
	// Output:
	// working on resize cat.png
	// working on resize dog.png
	// left: 0
}

// A message that keeps failing moves to a dead-letter queue on the claim
// after its last allowed one (C6).
func ExampleQueueOptions() {
	ctx := context.Background()
	svc, _ := herald.New(herald.Options{Store: memory.New()})
	defer svc.Close()

	jobs := svc.Queue("jobs")
	_, err := jobs.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
		MaxClaimCount:   2,
		DeadLetterQueue: "jobs.dead",
	}))
	if err != nil {
		panic(err)
	}
	jobs.Post(ctx, herald.Draft{Body: []byte("poison")})
	for attempt := 1; attempt <= 3; attempt++ {
		c, _ := jobs.Claim(ctx, herald.ClaimOptions{})
		fmt.Printf("attempt %d got %d message(s)\n", attempt, len(c.Messages))
		c.Release(ctx, 0) // the handler failed
	}
	dead, _ := svc.Queue("jobs.dead").List(ctx, herald.ListOptions{})
	fmt.Println("dead-lettered:", string(dead[0].Body))
	// Output:
	// attempt 1 got 1 message(s)
	// attempt 2 got 1 message(s)
	// attempt 3 got 0 message(s)
	// dead-lettered: poison
}

// Observers page through a queue with markers (M6) without taking the
// messages: each page starts after the last ID of the one before.
func ExampleQueue_List() {
	ctx := context.Background()
	svc, _ := herald.New(herald.Options{Store: memory.New()})
	defer svc.Close()

	events := svc.Queue("events")
	for _, e := range []string{"created", "paid", "shipped", "delivered", "reviewed"} {
		events.Post(ctx, herald.Draft{Body: []byte(e)})
	}
	var marker herald.ID
	for page := 1; ; page++ {
		msgs, err := events.List(ctx, herald.ListOptions{Marker: marker, Limit: 2})
		if err != nil || len(msgs) == 0 {
			break
		}
		fmt.Print("page ", page, ":")
		for _, m := range msgs {
			fmt.Print(" ", string(m.Body))
		}
		fmt.Println()
		marker = msgs[len(msgs)-1].ID
	}
	// Output:
	// page 1: created paid
	// page 2: shipped delivered
	// page 3: reviewed
}

// A worker pool: Consume claims jobs, runs the handler on each (here one at
// a time), deletes a job when its handler returns nil and retries it after
// a backoff when it fails. The attempt number is the message's claim count.
func ExampleQueue_Consume() {
	ctx, stop := context.WithCancel(context.Background())
	svc, err := herald.New(herald.Options{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	defer svc.Close()

	jobs := svc.Queue("jobs")
	_, err = jobs.Post(ctx,
		herald.Draft{Body: []byte("resize cat.png")},
		herald.Draft{Body: []byte("resize dog.png")},
	)
	if err != nil {
		panic(err)
	}

	var done atomic.Int32
	err = jobs.Consume(ctx, func(ctx context.Context, m herald.Message) error {
		fmt.Printf("attempt %d: %s\n", m.ClaimCount, m.Body)
		if string(m.Body) == "resize dog.png" && m.ClaimCount == 1 {
			return herald.RetryAfter(errors.New("dog is busy"), 0) // try again now
		}
		if done.Add(1) == 2 {
			stop() // a real worker runs until shutdown
		}
		return nil
	}, herald.ConsumeOptions{
		Concurrency: 1,
		Logger:      slog.New(slog.DiscardHandler), // failures are logged: not in this output
	})
	fmt.Println("stopped:", err)
	// Output:
	// attempt 1: resize cat.png
	// attempt 1: resize dog.png
	// attempt 2: resize dog.png
	// stopped: <nil>
}
