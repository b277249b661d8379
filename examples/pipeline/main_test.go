package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every order is invoiced exactly once and billed in full.
func TestPipelineInvoicesEachOrderOnce(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(filepath.Join(t.TempDir(), "p.db"), 300, &out))
	require.Contains(t, out.String(), "orders 300  invoiced 300  duplicates 0  billed 45150 cents")
}
