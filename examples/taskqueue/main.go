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
// Progress goes to stderr: one line rewritten in place on a terminal,
// a plain line every two seconds otherwise (a pipe, a log file).
//
// Ctrl-C (SIGINT) or SIGTERM stops a run gracefully: posting stops, jobs
// claimed but not yet started are handed back without counting an
// attempt, running handlers finish, and the summary says what was done
// and how many jobs are left in the queue for the next run. A second
// Ctrl-C ends the process at once.
//
// Run it again on the same file and it carries on as a service would: the
// queues are durable, so jobs an earlier run left unfinished (it was
// stopped, or killed) are handled too and reported apart, and earlier
// runs' dead letters stay in jobs.dead for inspection. Jobs a killed run
// had claimed stay leased to it until their leases end (30 s, Consume's
// LeaseTTL); a rerun waits for them, says so, and reports its own jobs'
// rate without that wait. Each run marks its jobs with a run id
// ("<run>/<n>" bodies) and checks only its own: every one processed or
// dead-lettered exactly once.
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
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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
	if !isTerminal(os.Stderr) {
		c.lineEvery = 2 * time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once the first signal has started the graceful stop, a second one
	// ends the process at once, as it would without this handler.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, c, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// isTerminal reports whether f is a terminal, where "\r" can rewrite a
// line in place; elsewhere it would pile up as one endless line.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type config struct {
	db                                      string
	jobs, workers, producers                int
	flakyEvery, poisonEvery, malformedEvery int
	log                                     *slog.Logger
	progress                                io.Writer     // nil: no progress line
	lineEvery                               time.Duration // zero: one line rewritten with "\r"; else a plain line this often
	beforePost                              func(n int)   // nil: none; tests hold producers with it
}

// tally counts what the producers and handlers saw. done and retries count
// this run's jobs; earlier counts jobs of earlier runs processed now.
// lastOwn is when a handler last returned on one of this run's jobs (Unix
// nanoseconds): once they are all done, the end of this run's own work.
type tally struct {
	run                            string
	posted, done, retries, earlier atomic.Int64
	lastOwn                        atomic.Int64
}

// run posts and handles c.jobs jobs until all are processed or
// dead-lettered, or until ctx ends: then it stops gracefully and reports
// what it did and what it leaves in the queue.
func run(ctx context.Context, c config, out io.Writer) error {
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

	// The store calls below outlive a stop: only the work ends with ctx.
	bg := context.WithoutCancel(ctx)
	q := svc.Queue("jobs")
	if _, err := q.Create(bg, herald.Metadata{}.WithOptions(herald.QueueOptions{
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
	dead, err := deadSince(bg, dlq)
	if err != nil {
		return err
	}
	leased, err := leasedAtStart(bg, q)
	if err != nil {
		return err
	}

	t := tally{run: rand.Text()}
	start := time.Now()
	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	produced := make(chan error, 1)
	go func() { produced <- produce(work, q, c, &t) }()

	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(work, func(ctx context.Context, m herald.Message) error {
			return handle(c, m, &t)
		}, herald.ConsumeOptions{
			Concurrency: c.workers,
			Backoff:     herald.Backoff{Min: 50 * time.Millisecond, Max: time.Second},
			Logger:      c.log,
		})
	}()

	w := watcher{q: q, dlq: dlq, c: c, t: &t, dead: &dead, leased: leased}
	werr := w.watch(work, produced)
	stopWork()
	cerr := <-consumed
	if w.posting {
		// Posts end with work's ctx: an error now is the stop's own.
		<-produced
	}
	if err := errors.Join(werr, cerr); err != nil {
		return err
	}
	stopped := w.stopped
	end := time.Now()
	// Counted again now that Consume has stopped: its last moves to the
	// dead-letter queue happened after the last look.
	if err := dead.update(bg, dlq, t.run); err != nil {
		return err
	}
	if stopped {
		left, err := q.Stats(bg)
		if err != nil {
			return err
		}
		elapsed := end.Sub(start)
		fmt.Fprintf(out, "stopped early: jobs %d  posted %d  processed %d  retries %d  dead-lettered %d  in %v (%.0f jobs/s)\n",
			c.jobs, t.posted.Load(), t.done.Load(), t.retries.Load(), dead.own, elapsed.Round(time.Millisecond),
			rate(t.done.Load()+dead.own, elapsed))
		fmt.Fprintf(out, "left in the queue for the next run: %d jobs (%d claimed)\n", left.Total, left.Claimed)
	} else {
		// The rate is this run's own work: a wait for an earlier run's
		// leases (below) says nothing about how fast jobs are handled.
		ownEnd := end
		if n := t.lastOwn.Load(); n != 0 {
			ownEnd = time.Unix(0, n)
		}
		elapsed := ownEnd.Sub(start)
		fmt.Fprintf(out, "jobs %d  processed %d  retries %d  dead-lettered %d  in %v (%.0f jobs/s)\n",
			c.jobs, t.done.Load(), t.retries.Load(), dead.own, elapsed.Round(time.Millisecond),
			rate(int64(c.jobs), elapsed))
		if w.waitN > 0 {
			fmt.Fprintf(out, "then waited %v for %d jobs leased by an earlier run until their leases ended\n",
				end.Sub(w.waitFrom).Round(time.Millisecond), w.waitN)
		}
	}
	if n := t.earlier.Load() + dead.earlier; n > 0 {
		fmt.Fprintf(out, "and %d jobs left by earlier runs: processed %d  dead-lettered %d\n",
			n, t.earlier.Load(), dead.earlier)
	}
	if got := t.done.Load() + dead.own; !stopped && got != int64(c.jobs) {
		return fmt.Errorf("%d processed + dead-lettered of %d jobs: each should be exactly once", got, c.jobs)
	}
	return nil
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ownReturned records that a handler returned on one of this run's jobs:
// lastOwn keeps the latest such time, whichever handler stores last.
func (t *tally) ownReturned() {
	now := time.Now().UnixNano()
	for old := t.lastOwn.Load(); now > old && !t.lastOwn.CompareAndSwap(old, now); old = t.lastOwn.Load() {
	}
}

// handle is the work: job n fails as the config says.
func handle(c config, m herald.Message, t *tally) error {
	run, n, err := parseJob(m.Body)
	mine := run == t.run
	if mine {
		defer t.ownReturned()
		if m.ClaimCount > 1 {
			t.retries.Add(1)
		}
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

// leasedAtStart returns the claims live on q before this run claimed
// anything, with when each ends. bolt locks its file, so no other process
// holds q: they are an earlier run's, killed before it could hand its
// jobs back, and nobody can handle those jobs until the leases end.
func leasedAtStart(ctx context.Context, q *herald.Queue) (map[herald.ID]time.Time, error) {
	st, err := q.Stats(ctx)
	if err != nil || st.Claimed == 0 {
		return nil, err
	}
	leased := make(map[herald.ID]time.Time)
	var marker herald.ID
	for {
		page, err := q.List(ctx, herald.ListOptions{Marker: marker, Limit: 100, IncludeClaimed: true, IncludeDelayed: true})
		if err != nil || len(page) == 0 {
			return leased, err
		}
		for _, m := range page {
			if !m.ClaimID.IsZero() {
				leased[m.ClaimID] = m.ClaimExpires
			}
		}
		marker = page[len(page)-1].ID
	}
}

// watcher shows progress and notices when this run is only waiting for
// an earlier run's leases.
type watcher struct {
	q, dlq *herald.Queue
	c      config
	t      *tally
	dead   *deadCount
	leased map[herald.ID]time.Time // claims live at start: an earlier run's

	posting  bool      // not every job posted yet
	lastLine time.Time // when the last plain progress line was written
	waitFrom time.Time // when the wait for leased jobs began
	waitN    int64     // how many jobs it was for; zero: no wait
	checked  bool      // the leases were looked at once this run's jobs were done
	stopped  bool      // ctx ended before the work did
}

// watch shows progress from the first post until every job is posted and
// the queue is empty (every job processed or dead-lettered: nothing in
// flight), or until ctx ends, and counts the dead letters into w.dead.
func (w *watcher) watch(ctx context.Context, produced <-chan error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	w.posting = true
	for {
		select {
		case <-ctx.Done():
		case err := <-produced:
			w.posting = false
			if err != nil && ctx.Err() == nil {
				return err
			}
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return w.stop(ctx, nil)
		}
		// Stats first: a move to the dead-letter queue leaves q in the
		// same step, so once q is seen empty the count below sees them all.
		st, err := w.q.Stats(ctx)
		if err != nil {
			return w.stop(ctx, err)
		}
		if err := w.dead.update(ctx, w.dlq, w.t.run); err != nil {
			return w.stop(ctx, err)
		}
		done := !w.posting && st.Total == 0
		w.line(done, st.Total)
		if done {
			return nil
		}
		if !w.posting && !w.checked && w.t.done.Load()+w.dead.own == int64(w.c.jobs) {
			w.checked = true
			if err := w.noticeWait(ctx); err != nil {
				return w.stop(ctx, err)
			}
		}
	}
}

// stop ends the progress display when ctx has ended, the error of any
// store call it cut short with it; otherwise err stands.
func (w *watcher) stop(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	w.stopped = true
	w.line(true, queueTotal(ctx, w.q))
	return nil
}

func queueTotal(ctx context.Context, q *herald.Queue) int64 {
	st, err := q.Stats(context.WithoutCancel(ctx))
	if err != nil {
		return -1
	}
	return st.Total
}

// line writes the progress line: rewritten in place each tick, or a plain
// line every w.c.lineEvery; last ends it.
func (w *watcher) line(last bool, inQueue int64) {
	p := w.c.progress
	if p == nil {
		return
	}
	text := fmt.Sprintf("posted %d/%d  processed %d  retries %d  dead-lettered %d  in queue %d",
		w.t.posted.Load(), w.c.jobs, w.t.done.Load(), w.t.retries.Load(), w.dead.own, inQueue)
	switch now := time.Now(); {
	case w.c.lineEvery == 0:
		fmt.Fprintf(p, "\r%s   ", text)
		if last {
			fmt.Fprintln(p)
		}
	case last || now.Sub(w.lastLine) >= w.c.lineEvery:
		fmt.Fprintln(p, text)
		w.lastLine = now
	}
}

// noticeWait is called once this run's own jobs are all done while q is
// not yet empty. If what is left includes jobs still under an earlier
// run's leases, the run can only wait for those leases to end: say so
// once, rather than sit silent for up to LeaseTTL.
func (w *watcher) noticeWait(ctx context.Context) error {
	if len(w.leased) == 0 {
		return nil
	}
	now := time.Now()
	var n int64
	var until time.Time
	var marker herald.ID
	for {
		page, err := w.q.List(ctx, herald.ListOptions{Marker: marker, Limit: 100, IncludeClaimed: true, IncludeDelayed: true})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if _, ok := w.leased[m.ClaimID]; ok && !m.ClaimID.IsZero() {
				n++
				if m.ClaimExpires.After(until) {
					until = m.ClaimExpires
				}
			}
		}
		marker = page[len(page)-1].ID
	}
	if n == 0 {
		return nil
	}
	w.waitFrom, w.waitN = now, n
	if p := w.c.progress; p != nil {
		if w.c.lineEvery == 0 {
			fmt.Fprintln(p) // keep the rewritten line above the notice
		}
		fmt.Fprintf(p, "waiting for %d jobs still leased by an earlier run (their leases end within %v)\n",
			n, until.Sub(now).Round(time.Second))
	}
	return nil
}
