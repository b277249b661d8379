package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The README's main job completes: every job is processed or
// dead-lettered, none lost, and no goroutine outlives it.
func TestRunLosesNoJob(t *testing.T) {
	require.NoError(t, run(filepath.Join(t.TempDir(), "jobs.db"), 500, 4, 50, 100))
}
