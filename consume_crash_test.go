package herald_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// Consume under kill -9 (RELIABILITY §5 for workers): a child process runs
// a Consume worker pool on a bolt file and prints "DONE n" when its
// handler finishes job n. The parent kills it with SIGKILL mid-work
// several times, restarting it each time, and finally lets it drain the
// queue. Every job must be done at least once; a job is done twice only
// if its first run was in a worker that was killed before the delete was
// durable, and no kill repeats more jobs than one worker can hold
// handled but not yet deleted.

const (
	consumeChildEnv = "HERALD_CONSUME_CHILD" // set: this process is the child
	consumeDBEnv    = "HERALD_CONSUME_DB"
	consumeJobs     = 400
	consumeKills    = 5
	consumeWorkers  = 4
	consumeBatch    = 10
)

// TestConsumeCrashChild is the child's body; it does nothing unless
// re-executed by TestConsumeKill9.
func TestConsumeCrashChild(t *testing.T) {
	if os.Getenv(consumeChildEnv) == "" {
		t.Skip("runs only as the child of TestConsumeKill9")
	}
	st, err := bolt.Open(os.Getenv(consumeDBEnv), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	svc, err := herald.New(herald.Options{Store: st})
	if err != nil {
		os.Exit(3)
	}
	q := svc.Queue("jobs")
	var out sync.Mutex
	say := func(line string) { // one write per line: whole lines or nothing
		out.Lock()
		defer out.Unlock()
		os.Stdout.WriteString(line + "\n")
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() { // the last run ends once the queue is empty
		for range time.Tick(20 * time.Millisecond) {
			if s, err := q.Stats(ctx); err == nil && s.Total == 0 {
				stop()
				return
			}
		}
	}()
	err = q.Consume(ctx, func(ctx context.Context, m herald.Message) error {
		say("START " + string(m.Body))
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // the job's work
		say("DONE " + string(m.Body))
		return nil
	}, herald.ConsumeOptions{Concurrency: consumeWorkers, Batch: consumeBatch, LeaseTTL: 3 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child consume:", err)
		os.Exit(4)
	}
	if err := svc.Close(); err != nil {
		os.Exit(5)
	}
	say("DRAINED")
	os.Exit(0)
}

func TestConsumeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a worker process several times, waiting out its leases (about 15 s)")
	}
	path := filepath.Join(t.TempDir(), "jobs.db")
	st, err := bolt.Open(path, nil)
	require.NoError(t, err)
	svc, err := herald.New(herald.Options{Store: st})
	require.NoError(t, err)
	drafts := make([]herald.Draft, 0, consumeJobs)
	for n := range consumeJobs {
		drafts = append(drafts, herald.Draft{Body: []byte(strconv.Itoa(n))})
	}
	_, err = svc.Queue("jobs").Post(t.Context(), drafts...)
	require.NoError(t, err)
	require.NoError(t, svc.Close())

	rng := rand.New(rand.NewPCG(1, 2))
	done := make(map[string][]int) // job → the runs that finished it
	for run := 0; ; run++ {
		killAfter := -1 // the last run drains
		if run < consumeKills {
			killAfter = 10 + rng.IntN(40)
		}
		lines := runConsumeChild(t, path, killAfter)
		for _, l := range lines {
			if job, ok := strings.CutPrefix(l, "DONE "); ok {
				done[job] = append(done[job], run)
			}
		}
		if killAfter < 0 {
			require.Equal(t, "DRAINED", lines[len(lines)-1])
			break
		}
	}

	repeats := make([]int, consumeKills) // jobs a killed run finished, done again later
	for n := range consumeJobs {
		runs := done[strconv.Itoa(n)]
		require.NotEmpty(t, runs, "job %d lost", n)
		for i, r := range runs[:len(runs)-1] {
			require.Less(t, r, runs[i+1], "job %d done twice in one run", n)
			require.Less(t, r, consumeKills, "job %d repeated after a clean run", n)
			repeats[r]++
		}
	}
	t.Logf("jobs done again after each kill: %v", repeats)
	for r, k := range repeats {
		// A handled message waits for its delete only while its claim
		// still has a message running or unstarted (deletes are batched
		// per claim), and a worker has at most one claim per handler plus
		// the feeder's: that many batches can be repeated.
		require.LessOrEqual(t, k, (consumeWorkers+1)*consumeBatch, "run %d", r)
	}
}

// runConsumeChild runs the child until it has printed killAfter DONE
// lines, then kills it with SIGKILL; with killAfter < 0 it waits for the
// child to drain the queue and exit. It returns the child's lines.
func runConsumeChild(t *testing.T, path string, killAfter int) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestConsumeCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), consumeChildEnv+"=1", consumeDBEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	var lines []string
	dones := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "DONE ") {
			dones++
		}
		if dones == killAfter {
			require.NoError(t, cmd.Process.Kill())
			break
		}
	}
	for sc.Scan() { // what the child wrote before it died
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	if killAfter < 0 {
		require.NoError(t, err)
	}
	return lines
}
