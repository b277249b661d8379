package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The README's main job completes: every job is processed or
// dead-lettered (poison after three attempts, malformed at once), none
// lost, the queue drained, and no goroutine outlives it.
func TestRunLosesNoJob(t *testing.T) {
	var out bytes.Buffer
	err := run(config{
		db: filepath.Join(t.TempDir(), "jobs.db"), jobs: 500, workers: 4, producers: 2,
		flakyEvery: 50, poisonEvery: 100, malformedEvery: 250,
		log: slog.New(slog.DiscardHandler),
	}, &out)
	require.NoError(t, err)
	// 500 jobs: 250 and 500 are malformed (dead-lettered at once); 100,
	// 200, 300, 400 are poison (three attempts: 2 retries each, then
	// dead-lettered); 50, 150, 350, 450 are flaky (1 retry each).
	require.Regexp(t, regexp.MustCompile(`^jobs 500  processed 494  retries 12  dead-lettered 6 `), out.String())
}
