package herald_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// S2 under kill -9: a child process posts to a queue with a webhook
// subscription whose receiver is down (503), printing each acknowledged
// post; the parent kills it mid-stream, then reopens the file with the
// receiver up. Every acknowledged post must be delivered: the outbox was
// written in the post's own transaction.

const (
	notifyChildEnv = "HERALD_NOTIFY_CHILD"
	notifyDBEnv    = "HERALD_NOTIFY_DB"
)

// TestNotifyCrashChild is the child's body; it does nothing unless
// re-executed by TestDeliveriesSurviveKill9.
func TestNotifyCrashChild(t *testing.T) {
	if os.Getenv(notifyChildEnv) == "" {
		t.Skip("runs only as the child of TestDeliveriesSurviveKill9")
	}
	st, err := bolt.Open(os.Getenv(notifyDBEnv), nil)
	if err != nil {
		os.Exit(3)
	}
	svc, err := herald.New(herald.Options{Store: st, Notify: herald.NotifyOptions{Timeout: time.Second}})
	if err != nil {
		os.Exit(3)
	}
	q := svc.Queue("events")
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ids, err := q.Post(context.Background(), herald.Draft{Body: fmt.Appendf(nil, "%d-%d", g, i)})
				if err != nil {
					os.Exit(4)
				}
				out.Lock()
				os.Stdout.WriteString("POST " + ids[0].String() + "\n")
				out.Unlock()
			}
		})
	}
	wg.Wait() // never: the parent kills us
}

func TestDeliveriesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary as a child process")
	}
	var mu sync.Mutex
	up := false
	got := make(map[string]bool)
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var n struct {
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(body, &n) == nil {
			got[n.MessageID] = true
		}
		select {
		case arrived <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()

	path := filepath.Join(t.TempDir(), "events.db")
	st, err := bolt.Open(path, nil)
	require.NoError(t, err)
	svc, err := herald.New(herald.Options{Store: st})
	require.NoError(t, err)
	_, _, err = svc.Queue("events").Subscribe(t.Context(), srv.URL, herald.SubscribeOptions{
		// Keep retrying a down receiver for long: the child dies first.
		Options: json.RawMessage(`{"_retry_policy":{"retries_with_no_delay":1000}}`),
	})
	require.NoError(t, err)
	require.NoError(t, svc.Close())

	var acked []string
	for range 3 { // three children, each killed mid-stream
		cmd := exec.Command(os.Args[0], "-test.run=^TestNotifyCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), notifyChildEnv+"=1", notifyDBEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		for n := 0; sc.Scan(); n++ {
			if id, ok := strings.CutPrefix(sc.Text(), "POST "); ok {
				acked = append(acked, id)
			}
			if n == 50 {
				require.NoError(t, cmd.Process.Kill())
				break
			}
		}
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "POST "); ok {
				acked = append(acked, id)
			}
		}
		cmd.Wait()
	}

	mu.Lock()
	up = true
	mu.Unlock()
	st, err = bolt.Open(path, nil)
	require.NoError(t, err)
	svc, err = herald.New(herald.Options{Store: st})
	require.NoError(t, err)
	defer svc.Close()
	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, id := range acked {
			if !got[id] {
				n++
			}
		}
		return n
	}
	for missing() > 0 {
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d acknowledged posts never delivered", missing(), len(acked))
		}
	}
	t.Logf("%d acknowledged posts, all delivered after 3 kills", len(acked))
}
