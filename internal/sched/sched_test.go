package sched_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/sched"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Each queue fires at its earliest deadline, in deadline order, once.
func TestFiresEarliestDeadlineOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var fired []string
		start := time.Now()
		s := sched.New(time.Now, func(ref store.QueueRef) {
			mu.Lock()
			fired = append(fired, ref.Name+"@"+time.Since(start).String())
			mu.Unlock()
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		s.At(store.QueueRef{Name: "b"}, start.Add(2*time.Second))
		s.At(store.QueueRef{Name: "a"}, start.Add(3*time.Second))
		s.At(store.QueueRef{Name: "a"}, start.Add(time.Second))   // earlier: supersedes
		s.At(store.QueueRef{Name: "b"}, start.Add(5*time.Second)) // later: ignored
		time.Sleep(10 * time.Second)                              // fake time inside the bubble
		synctest.Wait()
		cancel()
		<-done
		require.Equal(t, []string{"a@1s", "b@2s"}, fired)
	})
}
