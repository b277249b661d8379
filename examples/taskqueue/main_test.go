package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain runs the test binary as the command itself when
// TASKQUEUE_MAIN holds its arguments (see runMain); otherwise the tests.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("TASKQUEUE_MAIN"); ok {
		os.Args = append(os.Args[:1], strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func small(db string) config {
	return config{
		db: db, jobs: 500, workers: 4, producers: 2,
		flakyEvery: 50, poisonEvery: 100, malformedEvery: 250,
		log: slog.New(slog.DiscardHandler),
	}
}

// 500 jobs: 250 and 500 are malformed (dead-lettered at once); 100, 200,
// 300, 400 are poison (three attempts: 2 retries each, then dead-lettered);
// 50, 150, 350, 450 are flaky (1 retry each).
var smallResult = regexp.MustCompile(`^jobs 500  processed 494  retries 12  dead-lettered 6 `)

// The README's main job completes: every job is processed or
// dead-lettered (poison after three attempts, malformed at once), none
// lost, the queue drained, and no goroutine outlives it.
func TestRunLosesNoJob(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), small(filepath.Join(t.TempDir(), "jobs.db")), &out))
	require.Regexp(t, smallResult, out.String())
}

// A rerun on the same file does the same work and checks only its own
// jobs: the first run's dead letters stay in jobs.dead and are not counted
// again (issue 14 item 9: the second run used to fail with "506
// processed + dead-lettered of 500 jobs").
func TestRunTwiceOnOneFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	for i := range 2 {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), small(db), &out), "run %d", i+1)
		require.Regexp(t, smallResult, out.String(), "run %d", i+1)
		require.NotContains(t, out.String(), "earlier runs", "run %d", i+1)
	}
	require.Equal(t, int64(12), deadLetters(t, db), "both runs' dead letters kept")
}

// Jobs an earlier run left in the queue (it was stopped early) are handled
// by the next run and reported apart from its own.
func TestRunHandlesEarlierJobs(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	require.NoError(t, run(t.Context(), small(db), new(bytes.Buffer)))
	withQueue(t, db, func(q *herald.Queue) {
		// Two ordinary jobs and a poison one of an earlier run, and a bare
		// number as an earlier version of the example posted.
		for _, body := range []string{"EARLIER/1", "EARLIER/2", "EARLIER/100", "3"} {
			_, err := q.Post(context.Background(), herald.Draft{Body: []byte(body)})
			require.NoError(t, err)
		}
	})
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), small(db), &out))
	require.Regexp(t, smallResult, out.String())
	require.Contains(t, out.String(), "and 4 jobs left by earlier runs: processed 3  dead-lettered 1\n")
}

// Progress shows while the jobs are being posted, not only once they all
// are: the producers are held at job 251 until a progress line has shown
// fewer than 500 posted.
func TestRunShowsProgressWhilePosting(t *testing.T) {
	c := small(filepath.Join(t.TempDir(), "jobs.db"))
	p := &progressLines{seen: make(chan struct{})}
	c.progress = p
	c.beforePost = func(n int) {
		if n != 251 {
			return
		}
		select {
		case <-p.seen:
		case <-time.After(30 * time.Second): // a guard against a hang, not a wait
			t.Error("no progress line while posting")
		}
	}
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), c, &out))
	require.Regexp(t, smallResult, out.String())
	require.Regexp(t, `posted 500/500  processed 494  retries 12  dead-lettered 6  in queue 0 *\n$`, p.String())
}

// progressLines records the progress output and closes seen at the first
// line showing posting under way.
type progressLines struct {
	mu   sync.Mutex
	buf  strings.Builder
	seen chan struct{}
	once sync.Once
}

var postedRE = regexp.MustCompile(`posted (\d+)/500 `)

func (p *progressLines) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := postedRE.FindSubmatch(b); m != nil {
		if n, _ := strconv.Atoi(string(m[1])); n > 0 && n < 500 {
			p.once.Do(func() { close(p.seen) })
		}
	}
	return p.buf.Write(b)
}

func (p *progressLines) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func withQueue(t *testing.T, db string, fn func(q *herald.Queue)) {
	t.Helper()
	st, err := bolt.Open(db, nil)
	require.NoError(t, err)
	svc, err := herald.New(herald.Options{Store: st})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	fn(svc.Queue("jobs"))
}

func deadLetters(t *testing.T, db string) (n int64) {
	withQueue(t, db, func(q *herald.Queue) {
		st, err := q.Service().Queue("jobs.dead").Stats(context.Background())
		require.NoError(t, err)
		n = st.Total
	})
	return n
}

// A run killed with kill -9 leaves the jobs it had claimed leased to it
// until their leases end. The next run does its own jobs, then says once
// that it is waiting for those leases instead of sitting silent, and its
// rate covers its own jobs, not the wait. The killed run is played by a
// claim taken and left live; synctest's clock runs the 30 s lease out
// (and shows that plain progress lines come at their interval).
func TestRunSaysItWaitsForAnEarlierRunsLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "jobs.db")
		c := small(db)
		c.jobs = 50 // job 50 is flaky: 1 retry
		require.NoError(t, run(t.Context(), c, new(bytes.Buffer)), "the run that creates the queues")
		withQueue(t, db, func(q *herald.Queue) {
			ctx := context.Background()
			for _, body := range []string{"EARLIER/1", "EARLIER/2", "EARLIER/3"} {
				_, err := q.Post(ctx, herald.Draft{Body: []byte(body)})
				require.NoError(t, err)
			}
			cl, err := q.Claim(ctx, herald.ClaimOptions{TTL: 30 * time.Second, Limit: 3})
			require.NoError(t, err)
			require.Len(t, cl.Messages, 3)
		})

		p := new(lockedBuffer)
		c.progress, c.lineEvery = p, 2*time.Second
		start := time.Now()
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), c, &out))
		require.GreaterOrEqual(t, time.Since(start), 30*time.Second, "the leases were waited for")

		require.Regexp(t, `\nwaiting for 3 jobs still leased by an earlier run \(their leases end within 30s\)\n`, p.String())
		require.Equal(t, 1, strings.Count(p.String(), "waiting for"), "said once")
		lines := strings.Count(p.String(), "posted 50/50")
		require.True(t, lines >= 10 && lines <= 20, "a plain line every 2 s over the 30 s, not every tick: %d", lines)
		m := regexp.MustCompile(`^jobs 50  processed 50  retries 1  dead-lettered 0  in (\S+) \((\d+) jobs/s\)\n` +
			`then waited (\S+) for 3 jobs leased by an earlier run until their leases ended\n` +
			`and 3 jobs left by earlier runs: processed 3  dead-lettered 0\n$`).FindStringSubmatch(out.String())
		require.NotNil(t, m, out.String())
		own, err := time.ParseDuration(m[1])
		require.NoError(t, err)
		require.Less(t, own, 5*time.Second, "the rate is over this run's own jobs")
		waited, err := time.ParseDuration(m[3])
		require.NoError(t, err)
		require.Greater(t, waited, 25*time.Second)
	})
}

// Off a terminal (here a pipe) progress comes as plain lines, not one line
// rewritten with "\r" that a log file would keep as one endless line.
func TestMainWritesPlainLinesOffATerminal(t *testing.T) {
	cmd, stderr := runMain(t, "-db "+filepath.Join(t.TempDir(), "jobs.db")+" -jobs 200")
	all, err := io.ReadAll(stderr)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait())
	require.NotContains(t, string(all), "\r")
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	for _, l := range lines {
		require.Regexp(t, `^posted \d+/200  processed \d+  retries \d+  dead-lettered \d+  in queue \d+$`, l)
	}
	require.Equal(t, "posted 200/200  processed 200  retries 4  dead-lettered 0  in queue 0", lines[len(lines)-1])
}

// Ctrl-C stops a run gracefully: the process is not killed, the summary
// prints and the jobs left are handed back, none still claimed, and every
// posted job is processed, dead-lettered or left in the queue.
func TestMainStopsGracefullyOnInterrupt(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jobs.db")
	cmd, progress := runMain(t, "-db "+db+" -jobs 1000000")
	stderr := bufio.NewScanner(progress)
	stderr.Split(scanProgress)
	require.True(t, stderr.Scan(), "a first progress line")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	for stderr.Scan() {
	}
	require.NoError(t, cmd.Wait(), "exit status 0 after Ctrl-C")

	out := cmd.Stdout.(*bytes.Buffer).String()
	m := regexp.MustCompile(`^stopped early: jobs 1000000  posted (\d+)  processed (\d+)  retries \d+  dead-lettered (\d+)  in \S+ \(\d+ jobs/s\)\n` +
		`left in the queue for the next run: (\d+) jobs \(0 claimed\)\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, n(m[1]), n(m[2])+n(m[3])+n(m[4]), "posted = processed + dead-lettered + left")
	require.Less(t, n(m[1]), int64(1000000), "stopped while posting")
	withQueue(t, db, func(q *herald.Queue) {
		st, err := q.Stats(context.Background())
		require.NoError(t, err)
		require.Equal(t, n(m[4]), st.Total)
		require.Zero(t, st.Claimed, "nothing left leased to the stopped run")
	})
}

// runMain starts the test binary as the command with args (see TestMain),
// its stdout kept in a buffer; it returns the command and its stderr.
func runMain(t *testing.T, args string) (*exec.Cmd, io.Reader) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "TASKQUEUE_MAIN="+args)
	cmd.Stdout = new(bytes.Buffer)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stderr
}

// scanProgress splits progress output into lines ended by "\n" or "\r".
func scanProgress(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// lockedBuffer is a progress writer safe to read while the run writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
