// Command heraldload drives a Zaqar v2 server (heraldd, or Zaqar itself)
// with 4 producers posting single 256-byte messages and 4 consumers
// claiming 10 at a time and deleting each batch in one bulk DELETE, and
// prints the end-to-end rate. It speaks HTTP/1.1 over one keep-alive
// connection per producer and consumer (plain http:// only), so that
// little of the machine goes to the client.
//
//	go run ./cmd/heraldd &
//	go run ./cmd/heraldload -url http://127.0.0.1:8888 -messages 20000
//
// Against a server that wants a token (heraldd --auth token), give it in
// HERALD_TOKEN, as heraldd takes its own, or with -token (which wins, but
// shows in the process list); it is sent as X-Auth-Token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/heraldmq/herald/internal/load"
)

func main() {
	o, err := parseOptions(os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		os.Exit(2) // parseOptions has said why
	}
	r, err := load.Run(context.Background(), o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("moved %d messages in %v: %.0f msgs/s (%d posts, %d claims of which %d empty, %d bulk deletes)\n",
		r.Deleted, r.Elapsed.Round(1e6), r.Rate(), r.Posts, r.Claims, r.EmptyClaims, r.Deletes)
}

// parseOptions reads the flags; an empty -token is taken from HERALD_TOKEN.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (load.Options, error) {
	var o load.Options
	fs := flag.NewFlagSet("heraldload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8888", "server base URL (plain http://)")
	fs.StringVar(&o.Queue, "queue", "load", "queue name")
	fs.StringVar(&o.Project, "project", "load", "X-Project-ID")
	fs.StringVar(&o.Token, "token", "", "X-Auth-Token to send (default $HERALD_TOKEN; none if both are empty)")
	fs.IntVar(&o.Producers, "producers", 4, "concurrent producers")
	fs.IntVar(&o.Consumers, "consumers", 4, "concurrent consumers")
	fs.IntVar(&o.Messages, "messages", 10000, "messages to move")
	fs.IntVar(&o.BodySize, "body", 256, "body size in bytes")
	fs.IntVar(&o.Batch, "batch", 10, "claim limit")
	fs.IntVar(&o.PostBatch, "post-batch", 1, "messages per POST")
	if err := fs.Parse(args); err != nil {
		return load.Options{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(stderr, "heraldload:", err)
		return load.Options{}, err
	}
	if o.Token == "" {
		o.Token = getenv("HERALD_TOKEN")
	}
	return o, nil
}
