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
//
// Run it again on the same file and it carries on as a service would: the
// queues are durable, so jobs an earlier run left unfinished (it was
// stopped early) are handled too and reported apart, and earlier runs'
// dead letters stay in jobs.dead for inspection. Each run marks its jobs
// with a run id ("<run>/<n>" bodies) and checks only its own: every one
// processed or dead-lettered exactly once.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	progress                                io.Writer   // nil: no progress line
	beforePost                              func(n int) // nil: none; tests hold producers with it
}

// tally counts what the producers and handlers saw. done and retries count
// this run's jobs; earlier counts jobs of earlier runs processed now.
type tally struct {
	run                            string
	posted, done, retries, earlier atomic.Int64
}

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
	dead, err := deadSince(ctx, dlq)
	if err != nil {
		return err
	}

	t := tally{run: rand.Text()}
	start := time.Now()
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, q, c, &t) }()

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

	if err := watch(ctx, q, dlq, c, &t, &dead, produced); err != nil {
		return err
	}
	stop()
	if err := <-consumed; err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "jobs %d  processed %d  retries %d  dead-lettered %d  in %v (%.0f jobs/s)\n",
		c.jobs, t.done.Load(), t.retries.Load(), dead.own, elapsed.Round(time.Millisecond),
		float64(c.jobs)/elapsed.Seconds())
	if n := t.earlier.Load() + dead.earlier; n > 0 {
		fmt.Fprintf(out, "and %d jobs left by earlier runs: processed %d  dead-lettered %d\n",
			n, t.earlier.Load(), dead.earlier)
	}
	if got := t.done.Load() + dead.own; got != int64(c.jobs) {
		return fmt.Errorf("%d processed + dead-lettered of %d jobs: each should be exactly once", got, c.jobs)
	}
	return nil
}

// handle is the work: job n fails as the config says.
func handle(c config, m herald.Message, t *tally) error {
	run, n, err := parseJob(m.Body)
	mine := run == t.run
	if mine && m.ClaimCount > 1 {
		t.retries.Add(1)
	}
	switch {
	case err != nil || every(n, c.malformedEvery):
		return herald.Permanent(fmt.Errorf("job %q is malformed", m.Body))
	case every(n, c.poisonEvery):
		return fmt.Errorf("job %d is poison", n)
	case every(n, c.flakyEvery) && m.ClaimCount == 1:
		return fmt.Errorf("job %d: transient failure", n)
	}
	if mine {
		t.done.Add(1)
	} else {
		t.earlier.Add(1)
	}
	return nil
}

func every(n, k int) bool { return k > 0 && n%k == 0 }

// parseJob reads a "<run>/<n>" body; a bare number is an earlier version's
// job, of no run.
func parseJob(body []byte) (run string, n int, err error) {
	run, num, ok := strings.Cut(string(body), "/")
	if !ok {
		run, num = "", run
	}
	n, err = strconv.Atoi(num)
	return run, n, err
}

// produce posts this run's jobs 1..c.jobs from c.producers producers, one
// job per post.
func produce(ctx context.Context, q *herald.Queue, c config, t *tally) error {
	var next atomic.Int64
	errs := make(chan error, c.producers)
	for range c.producers {
		go func() {
			for n := next.Add(1); n <= int64(c.jobs); n = next.Add(1) {
				if c.beforePost != nil {
					c.beforePost(int(n))
				}
				body := t.run + "/" + strconv.FormatInt(n, 10)
				if _, err := q.Post(ctx, herald.Draft{Body: []byte(body)}); err != nil {
					errs <- err
					return
				}
				t.posted.Add(1)
			}
			errs <- nil
		}()
	}
	var all []error
	for range c.producers {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// deadCount counts the dead letters moved since a run began, its own jobs
// apart from earlier runs'. The dead-letter queue's IDs grow in the order
// messages are moved there (M2), so the newest ID at the start marks where
// this run's moves begin and each count reads only what is new.
type deadCount struct {
	mark         herald.ID
	own, earlier int64
}

// deadSince starts a count after dlq's newest message.
func deadSince(ctx context.Context, dlq *herald.Queue) (deadCount, error) {
	st, err := dlq.Stats(ctx)
	if errors.Is(err, herald.ErrNotFound) {
		return deadCount{}, nil
	}
	if err != nil || st.Newest == nil {
		return deadCount{}, err
	}
	return deadCount{mark: st.Newest.ID}, nil
}

// update counts the dead letters moved since the last update.
func (d *deadCount) update(ctx context.Context, dlq *herald.Queue, run string) error {
	for {
		page, err := dlq.List(ctx, herald.ListOptions{
			Marker: d.mark, Limit: 100, IncludeClaimed: true, IncludeDelayed: true,
		})
		if err != nil || len(page) == 0 {
			return err
		}
		for _, m := range page {
			if r, _, _ := parseJob(m.Body); r == run {
				d.own++
			} else {
				d.earlier++
			}
		}
		d.mark = page[len(page)-1].ID
	}
}

// watch shows progress from the first post until every job is posted and
// the queue is empty (every job processed or dead-lettered: nothing in
// flight), and counts the dead letters into dead.
func watch(ctx context.Context, q, dlq *herald.Queue, c config, t *tally, dead *deadCount, produced <-chan error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	posting := true
	for {
		select {
		case err := <-produced:
			if err != nil {
				return err
			}
			posting = false
		case <-tick.C:
		}
		// Stats first: a move to the dead-letter queue leaves q in the
		// same step, so once q is seen empty the count below sees them all.
		st, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		if err := dead.update(ctx, dlq, t.run); err != nil {
			return err
		}
		if c.progress != nil {
			fmt.Fprintf(c.progress, "\rposted %d/%d  processed %d  retries %d  dead-lettered %d  in queue %d   ",
				t.posted.Load(), c.jobs, t.done.Load(), t.retries.Load(), dead.own, st.Total)
		}
		if !posting && st.Total == 0 {
			if c.progress != nil {
				fmt.Fprintln(c.progress)
			}
			return nil
		}
	}
}
