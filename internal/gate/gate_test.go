package gate_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/gate"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Shut waits for the call in flight, then every Enter is ErrClosed.
func TestShutWaitsForCallsInFlight(t *testing.T) {
	g := gate.New()
	require.NoError(t, g.Enter())
	shut := make(chan bool)
	go func() { shut <- g.Shut() }()
	<-g.Done() // shutting: new calls are refused while the old one runs
	require.ErrorIs(t, g.Enter(), store.ErrClosed)
	select {
	case <-shut:
		t.Fatal("Shut returned with a call in flight")
	default:
	}
	g.Leave()
	require.True(t, <-shut, "the first Shut reports it shut")
	require.False(t, g.Shut(), "a second Shut does not")
}
