package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/httpapi"
	"github.com/heraldmq/herald/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestToken: -token wins; without it HERALD_TOKEN is sent; with neither,
// no token.
func TestToken(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "HERALD_TOKEN" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		args      []string
		env, want string
	}{
		{[]string{"-token", "flag"}, "env", "flag"},
		{nil, "env", "env"},
		{[]string{"-token", ""}, "env", "env"},
		{nil, "", ""},
	} {
		o, err := parseOptions(c.args, env(c.env), io.Discard)
		require.NoError(t, err)
		require.Equal(t, c.want, o.Token, "args %q, HERALD_TOKEN %q", c.args, c.env)
	}
	_, err := parseOptions([]string{"extra"}, env(""), io.Discard)
	require.Error(t, err)
}

// Counts are refused at zero (and the body under 2 bytes) instead of
// silently taking load's defaults: -messages 0 used to move 10,000.
func TestZeroCountsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-messages", "0"}, "-messages 0: must be at least 1"},
		{[]string{"-messages", "-5"}, "-messages -5: must be at least 1"},
		{[]string{"-producers", "0"}, "-producers 0: must be at least 1"},
		{[]string{"-consumers", "0"}, "-consumers 0: must be at least 1"},
		{[]string{"-batch", "0"}, "-batch 0: must be at least 1"},
		{[]string{"-post-batch", "0"}, "-post-batch 0: must be at least 1"},
		{[]string{"-body", "1"}, "-body 1: must be at least 2"},
		{[]string{"-progress", "0s"}, "-progress 0s: must be more than 0"},
	} {
		var stderr bytes.Buffer
		_, err := parseOptions(c.args, func(string) string { return "" }, &stderr)
		require.EqualError(t, err, c.want, "%q", c.args)
		require.Equal(t, "heraldload: "+c.want+"\n", stderr.String())
	}
	o, err := parseOptions([]string{"-messages", "1"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 1, o.Messages)
}

// TestBinary builds heraldload and runs it against a server: it prints
// progress lines on stderr while it runs, the rate and latency
// percentiles at the end, and refuses -messages 0 with exit status 2.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "heraldload")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	svc, err := herald.New(herald.Options{Store: memory.New(), SweepInterval: -1})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	var requests atomic.Int64
	api := httpapi.New(svc, httpapi.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()

	cmd := exec.Command(bin, "-url", srv.URL, "-messages", "200", "-progress", "1ms")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s", stderr.String())
	require.Regexp(t, `^moved 200 messages in .*\n`+
		`latency  post   p50 \S+  p90 \S+  p99 \S+  max \S+\n`+
		`latency  claim  p50 \S+  p90 \S+  p99 \S+  max \S+\n`+
		`latency  delete p50 \S+  p90 \S+  p99 \S+  max \S+\n$`, stdout.String())
	require.Regexp(t, `^\rposted \d+/200  deleted \d+/200  \d+ msgs/s  `, stderr.String())
	require.Regexp(t, `\rposted 200/200  deleted 200/200  \d+ msgs/s  \n$`, stderr.String(), "the last line has the final counts")

	before := requests.Load()
	cmd = exec.Command(bin, "-url", srv.URL, "-messages", "0")
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Equal(t, "heraldload: -messages 0: must be at least 1\n", string(out))
	require.Equal(t, before, requests.Load(), "the refused run sent nothing")
}
