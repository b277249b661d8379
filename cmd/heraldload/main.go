// Command heraldload drives a Zaqar v2 server (heraldd, or Zaqar itself)
// with 4 producers posting single 256-byte messages and 4 consumers
// claiming 10 at a time and deleting each batch in one bulk DELETE, and
// prints the end-to-end rate and the latency percentiles (p50, p90, p99,
// max) of each kind of request; a progress line on stderr shows how far it
// is meanwhile. It speaks HTTP/1.1 over one keep-alive connection per
// producer and consumer (plain http:// only), so that little of the
// machine goes to the client. Every count must be at least 1: a zero is
// refused, not taken as the default.
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
	"time"

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
	o.Report = func(r load.Result) { progress(os.Stderr, o.Messages, r) }
	r, err := load.Run(context.Background(), o)
	fmt.Fprintln(os.Stderr) // end the progress line
	if err != nil {
		log.Fatal(err)
	}
	summary(os.Stdout, r)
}

// progress rewrites one line on w with how far the run is.
func progress(w io.Writer, messages int, r load.Result) {
	fmt.Fprintf(w, "\rposted %d/%d  deleted %d/%d  %.0f msgs/s  ", r.Posted, messages, r.Deleted, messages, r.Rate())
}

// summary prints the rate, the requests and their latency percentiles.
func summary(w io.Writer, r load.Result) {
	fmt.Fprintf(w, "moved %d messages in %v: %.0f msgs/s (%d posts, %d claims of which %d empty, %d bulk deletes)\n",
		r.Deleted, r.Elapsed.Round(1e6), r.Rate(), r.Posts, r.Claims, r.EmptyClaims, r.Deletes)
	fmt.Fprintf(w, "latency  post   %v\n", r.PostLatency)
	fmt.Fprintf(w, "latency  claim  %v\n", r.ClaimLatency)
	fmt.Fprintf(w, "latency  delete %v\n", r.DeleteLatency)
}

// parseOptions reads the flags; an empty -token is taken from HERALD_TOKEN.
// Counts must be given as they are meant: a zero, which load.Options reads
// as "the default", is refused here rather than silently become 10,000.
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
	fs.IntVar(&o.BodySize, "body", 256, "body size in bytes (a JSON string: at least 2)")
	fs.IntVar(&o.Batch, "batch", 10, "claim limit")
	fs.IntVar(&o.PostBatch, "post-batch", 1, "messages per POST")
	fs.DurationVar(&o.ReportEvery, "progress", time.Second, "interval between progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return load.Options{}, err
	}
	err := func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments: %q", fs.Args())
		}
		for _, c := range []struct {
			name   string
			n, min int
		}{
			{"producers", o.Producers, 1}, {"consumers", o.Consumers, 1}, {"messages", o.Messages, 1},
			{"body", o.BodySize, 2}, {"batch", o.Batch, 1}, {"post-batch", o.PostBatch, 1},
		} {
			if c.n < c.min {
				return fmt.Errorf("-%s %d: must be at least %d", c.name, c.n, c.min)
			}
		}
		if o.ReportEvery <= 0 {
			return fmt.Errorf("-progress %v: must be more than 0", o.ReportEvery)
		}
		return nil
	}()
	if err != nil {
		fmt.Fprintln(stderr, "heraldload:", err)
		return load.Options{}, err
	}
	if o.Token == "" {
		o.Token = getenv("HERALD_TOKEN")
	}
	return o, nil
}
