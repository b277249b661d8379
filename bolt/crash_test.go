package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

// The crash suite (RELIABILITY §5, D3): this test binary re-executes
// itself as a child that hammers a store and prints every acknowledgement,
// unbuffered, one line per write. The parent kills it with SIGKILL at a
// random moment, reopens the file and checks what survived against what
// the child was told.
//
// Queue a has a subscription (S2): every acknowledged post to it must
// have exactly one delivery after the restart. Tokens posted to a end in
// "a", and the parent takes the deliveries each round (lease, then settle
// Delivered) so that each round checks only the new ones.
//
// Child lines: "TRY t" before posting token t, "POST t" once the post is
// acknowledged, "TRYDEL t" before deleting it, "DEL t" once that delete is
// acknowledged. Message bodies are their tokens, so a message is known by
// its body in whichever queue it is.

const (
	crashChildEnv = "HERALD_CRASH_CHILD" // set: this process is the child
	crashDBEnv    = "HERALD_CRASH_DB"
	crashSeedEnv  = "HERALD_CRASH_SEED"
	crashKillsEnv = "HERALD_CRASH_KILLS" // scale the run; default 300
)

var crashQueues = []store.QueueRef{{Project: "crash", Name: "a"}, {Project: "crash", Name: "b"}}

// crashSubscriber subscribes to crashQueues[0].
const crashSubscriber = "http://crash.example/hook"

// TestCrashChild is the child's body; it does nothing unless re-executed
// by TestCrashKill9.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("runs only as the child of TestCrashKill9")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	s, err := bolt.Open(os.Getenv(crashDBEnv), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	// Idempotent: the first child makes it, later ones get it back.
	_, _, err = s.CreateSubscription(context.Background(), store.CreateSubscriptionParams{
		Queue: crashQueues[0], Subscriber: crashSubscriber, TTL: 1000 * time.Hour, Now: time.Now()})
	if err != nil {
		crashFail(err)
	}
	var out sync.Mutex
	say := func(lines ...string) { // one write per call: whole lines or nothing
		out.Lock()
		defer out.Unlock()
		os.Stdout.WriteString(strings.Join(lines, "\n") + "\n")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() { crashWorker(s, rand.New(rand.NewPCG(seed, uint64(g))), fmt.Sprintf("%d-%d", seed, g), say) })
	}
	wg.Wait() // never: the parent kills us
}

func crashWorker(s store.Store, rng *rand.Rand, prefix string, say func(...string)) {
	ctx := context.Background()
	for n := 0; ; {
		q := crashQueues[rng.IntN(len(crashQueues))]
		switch op := rng.IntN(10); {
		case op < 5: // post a batch of 1-5
			k := 1 + rng.IntN(5)
			drafts := make([]store.Draft, k)
			tries, acks := make([]string, k), make([]string, k)
			for i := range drafts {
				n++
				tok := fmt.Sprintf("t%s-%d%s", prefix, n, q.Name)
				drafts[i] = store.Draft{Body: []byte(tok), TTL: time.Hour}
				tries[i], acks[i] = "TRY "+tok, "POST "+tok
			}
			say(tries...)
			if _, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: drafts, Now: time.Now()}); err != nil {
				crashFail(err)
			}
			say(acks...)
		default: // claim, then delete most, release or abandon the rest
			ttl := time.Duration(1+rng.IntN(3)) * time.Second
			res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: ttl, Grace: time.Second, Limit: 1 + rng.IntN(10), Now: time.Now()})
			if err != nil {
				crashFail(err)
			}
			if len(res.Messages) == 0 {
				continue
			}
			var ids []store.ID
			var tries, acks []string
			for _, m := range res.Messages {
				if rng.IntN(5) > 0 {
					ids = append(ids, m.ID)
					tries = append(tries, "TRYDEL "+string(m.Body))
					acks = append(acks, "DEL "+string(m.Body))
				}
			}
			if len(ids) > 0 {
				say(tries...)
				if err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: res.Claim.ID, Now: time.Now()}); err != nil {
					crashFail(err)
				}
				say(acks...)
			}
			switch rng.IntN(3) {
			case 0:
				err = s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: res.Claim.ID, Delay: time.Duration(rng.IntN(2)) * time.Second, Now: time.Now()})
			case 1:
				_, err = s.RenewClaim(ctx, store.RenewClaimParams{Queue: q, Claim: res.Claim.ID, TTL: ttl, Grace: time.Second, Now: time.Now()})
			} // else: abandon it; it expires
			if err != nil && !isClaimGone(err) {
				crashFail(err)
			}
		}
	}
}

func isClaimGone(err error) bool { return errors.Is(err, store.ErrClaimNotFound) }

func crashFail(err error) {
	fmt.Fprintln(os.Stderr, "child op failed:", err)
	os.Exit(4)
}

// crashModel is what the parent knows from every child's acknowledgements.
type crashModel struct {
	tried    map[string]bool // TRY seen and the post may have landed
	posted   map[string]bool // acknowledged, or found after a crash
	deleting map[string]bool // TRYDEL seen, DEL not
	deleted  map[string]bool // acknowledged, or found gone after a crash
	// awaiting holds acknowledged posts to crashQueues[0] whose delivery
	// has not been seen yet; delivered those whose delivery has (S2).
	awaiting  map[string]bool
	delivered map[string]bool
	// recovered counts posts found after a crash that were never
	// acknowledged: committed, then killed before the reply. Over a run it
	// must be > 0, or the kills never landed inside a commit.
	recovered int
}

func (m *crashModel) apply(line string) {
	verb, tok, _ := strings.Cut(line, " ")
	switch verb {
	case "TRY":
		m.tried[tok] = true
	case "POST":
		m.posted[tok] = true
		if strings.HasSuffix(tok, crashQueues[0].Name) {
			m.awaiting[tok] = true
		}
	case "TRYDEL":
		m.deleting[tok] = true
	case "DEL":
		delete(m.deleting, tok)
		m.deleted[tok] = true
	}
}

// TestCrashKill9 kills a working child at random instants and checks after
// every restart: nothing acknowledged is lost, no acknowledged delete is
// undone, nothing unexpected or duplicated appears, claims agree with
// their messages, indexes agree with data and the file checks clean.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash suite takes about a minute; skipped in -short")
	}
	kills := 300
	if v, err := strconv.Atoi(os.Getenv(crashKillsEnv)); err == nil && v > 0 {
		kills = v
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	m := &crashModel{tried: map[string]bool{}, posted: map[string]bool{}, deleting: map[string]bool{}, deleted: map[string]bool{},
		awaiting: map[string]bool{}, delivered: map[string]bool{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range kills {
		lines := runAndKill(t, path, uint64(i+1), rng)
		for _, l := range lines {
			m.apply(l)
		}
		checkAfterCrash(t, path, m, i)
	}
	t.Logf("%d kills; %d acknowledged posts, %d acknowledged deletes; %d posts recovered (committed, unacknowledged); %d deliveries",
		kills, len(m.posted), len(m.deleted), m.recovered, len(m.delivered))
	require.Positive(t, m.recovered, "no kill landed between a commit and its acknowledgement")
}

// runAndKill starts a child, kills it after a random 5-200 ms or right
// after a random K-th acknowledgement, and returns the complete lines it
// printed.
func runAndKill(t *testing.T, path string, seed uint64, rng *rand.Rand) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDBEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	var timer *time.Timer
	afterAcks := -1
	if rng.IntN(2) == 0 {
		timer = time.AfterFunc(time.Duration(5+rng.IntN(196))*time.Millisecond, kill)
	} else {
		afterAcks = 1 + rng.IntN(40)
	}
	var lines []string
	acks := 0
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil { // EOF after the kill; a partial last line is dropped
			if err != io.EOF {
				t.Fatalf("reading child: %v", err)
			}
			break
		}
		line = strings.TrimSuffix(line, "\n")
		lines = append(lines, line)
		if strings.HasPrefix(line, "POST ") || strings.HasPrefix(line, "DEL ") {
			if acks++; acks == afterAcks {
				kill()
			}
		}
	}
	if timer != nil {
		timer.Stop()
	}
	kill() // a child that printed fewer acks than asked
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child ended by itself (%v): %s", err, stderr.String())
	}
	return lines
}

// checkAfterCrash reopens the file and holds it to the model.
func checkAfterCrash(t *testing.T, path string, m *crashModel, round int) {
	s, err := bolt.Open(path, nil)
	require.NoError(t, err, "round %d: reopen", round)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := context.Background()
	require.NoError(t, s.Verify(ctx), "round %d: indexes or file inconsistent", round)

	found := map[string]int{}
	now := time.Now()
	for _, q := range crashQueues {
		msgs := listAll(t, s, q, now)
		st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
		if err == nil {
			require.EqualValues(t, len(msgs), st.Total, "round %d: stats total vs messages in %s", round, q.Name)
			require.Equal(t, st.Total, st.Free+st.Claimed+st.Delayed, "round %d: stats add up", round)
		} else {
			require.ErrorIs(t, err, store.ErrNotFound)
			require.Empty(t, msgs)
		}
		for _, msg := range msgs {
			found[string(msg.Body)]++
			if !msg.ClaimID.IsZero() { // a claimed message's claim holds it
				_, held, err := s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: msg.ClaimID, Now: now})
				require.NoError(t, err, "round %d: claim of %s", round, msg.Body)
				require.True(t, holds(held, msg.ID), "round %d: claim does not hold %s", round, msg.Body)
			}
		}
	}
	for tok, n := range found {
		require.Equal(t, 1, n, "round %d: %s duplicated", round, tok)
		require.True(t, m.tried[tok] || m.posted[tok], "round %d: unexpected message %s", round, tok)
		require.False(t, m.deleted[tok], "round %d: acknowledged delete of %s undone", round, tok)
		if !m.posted[tok] {
			m.posted[tok] = true
			m.recovered++
		}
		delete(m.deleting, tok) // the delete did not commit; a later child may retry it
	}
	for tok := range m.posted {
		if found[tok] == 0 && !m.deleted[tok] {
			require.True(t, m.deleting[tok], "round %d: acknowledged post %s lost", round, tok)
			delete(m.deleting, tok)
			m.deleted[tok] = true // committed, unacknowledged delete
		}
	}
	checkDeliveries(t, s, m, round)
	clear(m.tried) // the child is dead: its unlanded posts must never appear
}

// checkDeliveries takes every delivery the last child's posts recorded
// and holds them to the model: one per acknowledged post to the
// subscribed queue, none twice, none for a post that never was (S2, D3).
func checkDeliveries(t *testing.T, s *bolt.Store, m *crashModel, round int) {
	ctx := context.Background()
	for {
		ds, _, err := s.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 1000, Lease: time.Hour, Now: time.Now()})
		require.NoError(t, err, "round %d: lease", round)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			tok := string(d.Body)
			require.Equal(t, crashQueues[0], d.Queue, "round %d: delivery of %s", round, tok)
			require.Equal(t, crashSubscriber, d.Subscriber)
			require.True(t, m.tried[tok] || m.posted[tok], "round %d: delivery of a post that never was: %s", round, tok)
			require.False(t, m.delivered[tok], "round %d: second delivery of %s", round, tok)
			m.delivered[tok] = true
			delete(m.awaiting, tok)
			require.NoError(t, s.SettleDelivery(ctx, store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Outcome: store.Delivered, Now: time.Now()}))
		}
	}
	require.Empty(t, m.awaiting, "round %d: acknowledged posts without a delivery", round)
	require.NoError(t, s.Verify(ctx), "round %d: outbox inconsistent after settling", round)
}

func listAll(t *testing.T, s store.Store, q store.QueueRef, now time.Time) []store.Message {
	var all []store.Message
	var marker store.ID
	for {
		page, err := s.ListMessages(context.Background(), store.ListMessagesParams{
			Queue: q, Marker: marker, Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Now: now,
		})
		require.NoError(t, err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		marker = page[len(page)-1].ID
	}
}

func holds(msgs []store.Message, id store.ID) bool {
	for _, m := range msgs {
		if m.ID == id {
			return true
		}
	}
	return false
}
