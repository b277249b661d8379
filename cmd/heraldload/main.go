// Command heraldload drives a Zaqar v2 server (heraldd, or Zaqar itself)
// with 4 producers posting single 256-byte messages and 4 consumers
// claiming 10 at a time and deleting each batch in one bulk DELETE, and
// prints the end-to-end rate.
//
//	go run ./cmd/heraldd &
//	go run ./cmd/heraldload -url http://127.0.0.1:8888 -messages 20000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/heraldmq/herald/internal/load"
)

func main() {
	var o load.Options
	flag.StringVar(&o.URL, "url", "http://127.0.0.1:8888", "server base URL")
	flag.StringVar(&o.Queue, "queue", "load", "queue name")
	flag.StringVar(&o.Project, "project", "load", "X-Project-ID")
	flag.IntVar(&o.Producers, "producers", 4, "concurrent producers")
	flag.IntVar(&o.Consumers, "consumers", 4, "concurrent consumers")
	flag.IntVar(&o.Messages, "messages", 10000, "messages to move")
	flag.IntVar(&o.BodySize, "body", 256, "body size in bytes")
	flag.IntVar(&o.Batch, "batch", 10, "claim limit")
	flag.IntVar(&o.PostBatch, "post-batch", 1, "messages per POST")
	flag.Parse()
	r, err := load.Run(context.Background(), o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("moved %d messages in %v: %.0f msgs/s (%d posts, %d claims of which %d empty, %d bulk deletes)\n",
		r.Deleted, r.Elapsed.Round(1e6), r.Rate(), r.Posts, r.Claims, r.EmptyClaims, r.Deletes)
}
