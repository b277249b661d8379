package wake_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/wake"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func got(w *wake.Waiter) int {
	select {
	case t := <-w.C():
		return t.Count()
	default:
		return 0
	}
}

// A wake for n reaches the oldest sleepers whose limits cover n, each with
// its share; a wake that finds none is not lost to a claimer out trying.
func TestWakeServesOldestFirst(t *testing.T) {
	ws := wake.New()
	ref := store.QueueRef{Name: "q"}
	a, b, c := ws.Join(ref, 2), ws.Join(ref, 2), ws.Join(ref, 2)
	require.Equal(t, 3, ws.Sleepers(ref))
	ws.Wake(ref, 3)
	require.Equal(t, []int{2, 1, 0}, []int{got(a), got(b), got(c)})
	require.Equal(t, 1, ws.Sleepers(ref), "c still sleeps")

	// a and b found something and sleep no more; c leaves holding nothing.
	ws.Leave(a, wake.Token{})
	ws.Leave(b, wake.Token{})
	ws.WakeAll(ref) // a relay for c
	require.Negative(t, got(c))
	ws.Wake(ref, 1) // while c is out trying: no sleeper
	require.False(t, ws.Sleep(c), "c tries again instead of sleeping")
	ws.Leave(c, wake.Token{})
	require.False(t, ws.Has(ref))
}
