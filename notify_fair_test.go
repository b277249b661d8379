package herald_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// L3: one project's fan-out does not starve another project's deliveries.
// Project a has 50 subscriptions on one queue and posts 30 messages: 1,500
// deliveries, more than the dispatcher holds, whose sends hang until the
// test lets one finish. Then project b posts one message to its one
// subscriber. b's delivery is sent within the next few slots that free,
// not after a's backlog: the lease takes each project's due deliveries in
// turn, and slots go round robin over projects. (Before, the lease took
// the oldest due first across projects, so b waited for about a thousand
// of a's sends.) Counted in sends, under synctest: no wall clock.
func TestFanOutDoesNotStarveAnotherProject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		var mu sync.Mutex
		sentB, sentA := false, 0
		gate := make(chan struct{})
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (int, error) {
			if r.URL.Host == "b.example" {
				mu.Lock()
				sentB = true
				mu.Unlock()
				return http.StatusNoContent, nil
			}
			select {
			case <-gate:
			case <-r.Context().Done():
				return 0, r.Context().Err()
			}
			mu.Lock()
			sentA++
			mu.Unlock()
			return http.StatusNoContent, nil
		})}
		svc := newService(t, func(o *herald.Options) {
			o.SweepInterval = -1
			o.Notify = herald.NotifyOptions{Client: client, Concurrency: 2, PerSubscriber: 1}
		})
		a := svc.Project("a").Queue("fan")
		for i := range 50 {
			_, _, err := a.Subscribe(ctx, fmt.Sprintf("http://a.example/%d", i), herald.SubscribeOptions{})
			require.NoError(t, err)
		}
		drafts := make([]herald.Draft, 30)
		for i := range drafts {
			drafts[i] = herald.Draft{Body: []byte("a")}
		}
		_, err := a.Post(ctx, drafts...)
		require.NoError(t, err)
		synctest.Wait() // a's backlog leased as far as it fits; two sends hang

		b := svc.Project("b").Queue("q")
		_, _, err = b.Subscribe(ctx, "http://b.example/", herald.SubscribeOptions{})
		require.NoError(t, err)
		post(t, b, "b")
		synctest.Wait()

		released := 0
		for ; released < 4; released++ {
			mu.Lock()
			done := sentB
			mu.Unlock()
			if done {
				break
			}
			gate <- struct{}{} // one of a's sends ends: a slot frees
			synctest.Wait()
		}
		mu.Lock()
		defer mu.Unlock()
		require.True(t, sentB, "b's delivery still waits after %d of a's 1,500 sends ended", released)
		require.LessOrEqual(t, sentA, 3)
	})
}
