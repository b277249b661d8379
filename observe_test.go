package herald_test

import (
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// Observe's drop policy: an observer stuck in fn keeps the 1,024 messages
// its buffer holds and drops the rest, and Observation.Dropped counts the
// drops while it runs, so seen + dropped == posted, exactly.
func TestObserveCountsDrops(t *testing.T) {
	log := make(logHook, 16)
	svc := newService(t, func(o *herald.Options) { o.Logger = slog.New(log) })
	q := svc.Queue("events")
	entered, release := make(chan struct{}), make(chan struct{})
	var seen atomic.Int64
	obs, err := q.Observe(func(m herald.Message) {
		if seen.Add(1) == 1 {
			close(entered)
			<-release // a slow observer
		}
	})
	require.NoError(t, err)
	defer obs.Stop()

	post(t, q, "first")
	<-entered // fn holds "first": the buffer is empty
	require.Zero(t, obs.Dropped())
	const more = 2000
	bodies := make([]string, 100)
	for i := range bodies {
		bodies[i] = "m"
	}
	for range more / len(bodies) {
		post(t, q, bodies...)
	}
	require.EqualValues(t, more-1024, obs.Dropped(), "dropped while running: all but what the buffer holds")
	log.await(t, "observer fell behind") // the first drop is logged at once

	close(release)
	obs.Stop() // returns once fn has seen everything it was handed
	require.EqualValues(t, 1+1024, seen.Load())
	require.EqualValues(t, 1+more, seen.Load()+obs.Dropped(), "seen + dropped == posted")
	obs.Stop() // a second Stop returns at once
}
