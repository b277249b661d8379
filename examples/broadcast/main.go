// Command broadcast is event broadcasting on one queue: a producer posts
// events, and three kinds of independent observers each see all of them,
// none taking them from the others:
//
//   - two readers page through the queue with List and their own marker
//     (Zaqar's listing with markers, M6): durable, each at its own pace;
//
//   - an in-process observer (Queue.Observe): instant, not durable, and
//     it drops messages if it falls more than 1,024 behind;
//
//   - a webhook subscription (Queue.Subscribe) to a local HTTP server:
//     pushed, durable, retried.
//
//     go run ./examples/broadcast [-events 200]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

func main() {
	events := flag.Int("events", 200, "events to post")
	flag.Parse()
	if err := run(*events, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(events int, out io.Writer) error {
	dir, err := os.MkdirTemp("", "broadcast")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := bolt.Open(filepath.Join(dir, "events.db"), nil)
	if err != nil {
		return err
	}
	svc, err := herald.New(herald.Options{Store: st})
	if err != nil {
		st.Close()
		return err
	}
	defer svc.Close()
	ctx := context.Background()
	q := svc.Queue("events")

	// Push: a webhook receiver counting what it gets.
	var pushed atomic.Int64
	allPushed := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pushed.Add(1) == int64(events) {
			close(allPushed)
		}
	}))
	defer hook.Close()
	if _, _, err := q.Subscribe(ctx, hook.URL, herald.SubscribeOptions{}); err != nil {
		return err
	}

	// In-process: an observer called for every post.
	var observed atomic.Int64
	obs, err := q.Observe(func(herald.Message) { observed.Add(1) })
	if err != nil {
		return err
	}
	defer obs.Stop()

	for i := range events {
		if _, err := q.Post(ctx, herald.Draft{Body: fmt.Appendf(nil, `{"event": %d}`, i)}); err != nil {
			return err
		}
	}

	// Pull: two readers with their own markers, at their own pace.
	var wg sync.WaitGroup
	read := make([]int, 2)
	errs := make([]error, 2)
	for r, page := range []int{7, 50} {
		wg.Go(func() { read[r], errs[r] = readAll(ctx, q, page) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	select {
	case <-allPushed:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("webhook got %d of %d events", pushed.Load(), events)
	}
	obs.Stop() // returns once the observer has seen everything posted before
	fmt.Fprintf(out, "events %d  reader A %d  reader B %d  observer %d  webhook %d\n",
		events, read[0], read[1], observed.Load(), pushed.Load())
	if read[0] != events || read[1] != events || observed.Load() != int64(events) {
		return fmt.Errorf("an observer missed events (the in-process one dropped %d: it is not lossless)", obs.Dropped())
	}
	return nil
}

// readAll pages through every message with a marker, page messages at a
// time, and returns how many it read. Listing takes nothing from the queue.
func readAll(ctx context.Context, q *herald.Queue, page int) (int, error) {
	var marker herald.ID
	n := 0
	for {
		msgs, err := q.List(ctx, herald.ListOptions{Marker: marker, Limit: page, Echo: true})
		if err != nil || len(msgs) == 0 {
			return n, err
		}
		n += len(msgs)
		marker = msgs[len(msgs)-1].ID
	}
}
