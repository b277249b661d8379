// Command taskqueue is herald's main job in miniature: producers post jobs
// to a durable queue in a bolt file and a pool of in-process workers
// claims, processes and deletes them. Some jobs fail on purpose: flaky ones
// succeed when retried after a backoff, poison ones fail every time and end
// in the dead-letter queue.
//
//	go run ./examples/taskqueue [-db jobs.db] [-jobs 20000] [-workers 8]
//
// Without -db the file lives in a temporary directory removed at exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

func main() {
	db := flag.String("db", "", "bolt file to keep the queues in (default: a temporary one)")
	jobs := flag.Int("jobs", 20000, "jobs to post")
	workers := flag.Int("workers", 8, "concurrent workers")
	flakyEvery := flag.Int("flaky-every", 50, "every Nth job fails its first attempt")
	poisonEvery := flag.Int("poison-every", 1000, "every Nth job always fails")
	flag.Parse()
	if err := run(*db, *jobs, *workers, *flakyEvery, *poisonEvery); err != nil {
		log.Fatal(err)
	}
}

// tally counts what the workers did.
type tally struct{ done, retries atomic.Int64 }

func run(path string, jobs, workers, flakyEvery, poisonEvery int) error {
	ctx := context.Background()
	if path == "" {
		dir, err := os.MkdirTemp("", "taskqueue")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "jobs.db")
	}
	st, err := bolt.Open(path, nil)
	if err != nil {
		return err
	}
	svc, err := herald.New(herald.Options{Store: st})
	if err != nil {
		st.Close()
		return err
	}
	defer svc.Close()

	q := svc.Queue("jobs")
	if _, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
		MaxClaimCount:   3, // three attempts, then the dead-letter queue
		DeadLetterQueue: "jobs.dead",
	})); err != nil {
		return err
	}

	start := time.Now()
	if err := produce(ctx, q, jobs); err != nil {
		return err
	}
	var t tally
	work := func(n int, attempt int) error {
		switch {
		case poisonEvery > 0 && n%poisonEvery == 0:
			return fmt.Errorf("job %d is poison", n)
		case flakyEvery > 0 && n%flakyEvery == 0 && attempt == 1:
			return fmt.Errorf("job %d: transient failure", n)
		}
		return nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { worker(ctx, q, work, &t, stop) })
	}
	dlq := svc.Queue("jobs.dead")
	for {
		st, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		dead, err := dlq.Stats(ctx)
		if err != nil && !isNotFound(err) {
			return err
		}
		fmt.Fprintf(os.Stderr, "\rdone %d/%d  retries %d  dead-lettered %d  in queue %d   ",
			t.done.Load(), jobs, t.retries.Load(), dead.Total, st.Total)
		if st.Total == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	dead, _ := dlq.Stats(ctx)
	fmt.Fprintln(os.Stderr)
	fmt.Printf("jobs %d  processed %d  retries %d  dead-lettered %d  in %v (%.0f jobs/s)\n",
		jobs, t.done.Load(), t.retries.Load(), dead.Total, elapsed.Round(time.Millisecond),
		float64(jobs)/elapsed.Seconds())
	if got := t.done.Load() + dead.Total; got != int64(jobs) {
		return fmt.Errorf("lost jobs: %d processed + dead-lettered of %d", got, jobs)
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, herald.ErrNotFound) }

// produce posts the jobs in batches of 100.
func produce(ctx context.Context, q *herald.Queue, jobs int) error {
	batch := make([]herald.Draft, 0, 100)
	for n := 1; n <= jobs; n++ {
		batch = append(batch, herald.Draft{Body: []byte(strconv.Itoa(n))})
		if len(batch) == cap(batch) || n == jobs {
			if _, err := q.Post(ctx, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// worker claims jobs until stop closes. Jobs that succeed are deleted
// through the claim; the claim is then released with a backoff, so the
// jobs that failed come back later.
func worker(ctx context.Context, q *herald.Queue, work func(n, attempt int) error, t *tally, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 10, TTL: 30 * time.Second, Wait: 100 * time.Millisecond})
		if err != nil {
			log.Print(err)
			return
		}
		var ok []herald.ID
		for _, m := range c.Messages {
			n, _ := strconv.Atoi(string(m.Body))
			if err := work(n, m.ClaimCount); err == nil {
				ok = append(ok, m.ID)
			}
		}
		if len(ok) > 0 { // one durable commit for the claim's finished jobs
			if err := c.Delete(ctx, ok...); err != nil {
				log.Print(err)
				return
			}
			t.done.Add(int64(len(ok)))
		}
		if failed := len(c.Messages) - len(ok); failed > 0 { // the rest: retry after a backoff
			t.retries.Add(int64(failed))
			if err := c.Release(ctx, 20*time.Millisecond); err != nil {
				log.Print(err)
			}
		}
	}
}
