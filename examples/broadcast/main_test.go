package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every observer — two paging readers, an in-process observer and a
// webhook — sees every event.
func TestEveryObserverSeesEveryEvent(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(100, &out))
	require.Equal(t, "events 100  reader A 100  reader B 100  observer 100  webhook 100\n", out.String())
}
