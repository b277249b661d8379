// Command taskqueue is herald's main job in miniature: producers post jobs
// to a durable queue in a bolt file while a Consume worker pool handles
// them. Some jobs fail on purpose: flaky ones fail their first attempt and
// succeed when retried after a backoff; poison ones fail every time and
// end in the dead-letter queue after three attempts; malformed ones are
// given up at once (herald.Permanent) and dead-lettered straight away.
//
//	go run ./examples/taskqueue [-db jobs.db] [-jobs 20000] [-workers 8] [-v]
//
// Without -db the file lives in a temporary directory removed at exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

func main() {
	var c config
	flag.StringVar(&c.db, "db", "", "bolt file to keep the queues in (default: a temporary one)")
	flag.IntVar(&c.jobs, "jobs", 20000, "jobs to post")
	flag.IntVar(&c.workers, "workers", 8, "concurrent handlers")
	flag.IntVar(&c.producers, "producers", 4, "concurrent producers")
	flag.IntVar(&c.flakyEvery, "flaky-every", 50, "every Nth job fails its first attempt")
	flag.IntVar(&c.poisonEvery, "poison-every", 1000, "every Nth job always fails")
	flag.IntVar(&c.malformedEvery, "malformed-every", 2500, "every Nth job is given up at once")
	verbose := flag.Bool("v", false, "log each handler failure")
	flag.Parse()
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	c.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	c.progress = os.Stderr
	if err := run(c, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	db                                      string
	jobs, workers, producers                int
	flakyEvery, poisonEvery, malformedEvery int
	log                                     *slog.Logger
	progress                                io.Writer // nil: no progress line
}

// tally counts what the handlers saw.
type tally struct{ done, retries atomic.Int64 }

func run(c config, out io.Writer) error {
	if c.db == "" {
		dir, err := os.MkdirTemp("", "taskqueue")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.db = filepath.Join(dir, "jobs.db")
	}
	st, err := bolt.Open(c.db, nil)
	if err != nil {
		return err
	}
	svc, err := herald.New(herald.Options{Store: st, Logger: c.log})
	if err != nil {
		st.Close()
		return err
	}
	defer svc.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	q := svc.Queue("jobs")
	if _, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
		MaxClaimCount:   3, // three attempts, then the dead-letter queue
		DeadLetterQueue: "jobs.dead",
		// Without it a dead letter keeps the job's own expiry (by default
		// one hour after it was posted) and vanishes unread; give dead
		// letters time to be looked at (_dead_letter_queue_messages_ttl).
		DeadLetterTTL: 14 * 24 * time.Hour,
	})); err != nil {
		return err
	}
	dlq := svc.Queue("jobs.dead")

	start := time.Now()
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, q, c.jobs, c.producers) }()

	var t tally
	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(ctx, func(ctx context.Context, m herald.Message) error {
			return handle(c, m, &t)
		}, herald.ConsumeOptions{
			Concurrency: c.workers,
			Backoff:     herald.Backoff{Min: 50 * time.Millisecond, Max: time.Second},
			Logger:      c.log,
		})
	}()

	if err := <-produced; err != nil {
		return err
	}
	dead, err := waitDrained(ctx, q, dlq, c, &t)
	if err != nil {
		return err
	}
	stop()
	if err := <-consumed; err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "jobs %d  processed %d  retries %d  dead-lettered %d  in %v (%.0f jobs/s)\n",
		c.jobs, t.done.Load(), t.retries.Load(), dead, elapsed.Round(time.Millisecond),
		float64(c.jobs)/elapsed.Seconds())
	if got := t.done.Load() + dead; got != int64(c.jobs) {
		return fmt.Errorf("%d processed + dead-lettered of %d jobs: each should be exactly once", got, c.jobs)
	}
	return nil
}

// handle is the work: job n fails as the config says.
func handle(c config, m herald.Message, t *tally) error {
	if m.ClaimCount > 1 {
		t.retries.Add(1)
	}
	n, err := strconv.Atoi(string(m.Body))
	switch {
	case err != nil || every(n, c.malformedEvery):
		return herald.Permanent(fmt.Errorf("job %q is malformed", m.Body))
	case every(n, c.poisonEvery):
		return fmt.Errorf("job %d is poison", n)
	case every(n, c.flakyEvery) && m.ClaimCount == 1:
		return fmt.Errorf("job %d: transient failure", n)
	}
	t.done.Add(1)
	return nil
}

func every(n, k int) bool { return k > 0 && n%k == 0 }

// produce posts jobs 1..jobs from several producers, one job per post.
func produce(ctx context.Context, q *herald.Queue, jobs, producers int) error {
	var next atomic.Int64
	errs := make(chan error, producers)
	for range producers {
		go func() {
			for n := next.Add(1); n <= int64(jobs); n = next.Add(1) {
				if _, err := q.Post(ctx, herald.Draft{Body: []byte(strconv.FormatInt(n, 10))}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var all []error
	for range producers {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// waitDrained shows progress until the queue is empty (every job
// processed or dead-lettered; call it once all jobs are posted), and
// returns how many were dead-lettered.
func waitDrained(ctx context.Context, q, dlq *herald.Queue, c config, t *tally) (int64, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		dead, err := dlq.Stats(ctx)
		if err != nil && !errors.Is(err, herald.ErrNotFound) {
			return 0, err
		}
		st, err := q.Stats(ctx)
		if err != nil {
			return 0, err
		}
		if c.progress != nil {
			fmt.Fprintf(c.progress, "\rprocessed %d/%d  retries %d  dead-lettered %d  in queue %d   ",
				t.done.Load(), c.jobs, t.retries.Load(), dead.Total, st.Total)
		}
		if st.Total == 0 { // every job deleted or moved: nothing in flight
			if c.progress != nil {
				fmt.Fprintln(c.progress)
			}
			return dead.Total, nil
		}
		<-tick.C
	}
}
