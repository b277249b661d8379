package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// heraldd -h prints every flag with the HERALD_ variable that sets it, and
// the secrets read from the environment only, from the same tables
// parseConfig reads; it is not an error.
func TestHelpListsEveryVariable(t *testing.T) {
	var flags *flag.FlagSet
	testFlags = func(fs *flag.FlagSet) { flags = fs }
	defer func() { testFlags = nil }()
	var out bytes.Buffer
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.NotNil(t, flags)
	n := 0
	flags.VisitAll(func(f *flag.Flag) {
		n++
		require.Regexp(t, `(?m)^  -`+f.Name+`( \w+)?  \(\$`+envName(f)+`\)\n    \t`, out.String())
		// The listed variable is the one that sets the flag.
		v := map[string]string{"string": "from-env", "int": "7", "duration": "7s", "": "true"}[kindOf(f)]
		if f.DefValue == "true" {
			v = "false"
		}
		require.NotEmpty(t, v, "flag %s of an unknown kind", f.Name)
		var seen *flag.FlagSet
		testFlags = func(fs *flag.FlagSet) { seen = fs }
		_, _ = parseConfig(nil, func(k string) string { return map[string]string{envName(f): v}[k] }, io.Discard)
		require.Equal(t, v, seen.Lookup(f.Name).Value.String(), "$%s sets -%s", envName(f), f.Name)
	})
	require.GreaterOrEqual(t, n, 20)
	for _, s := range secrets {
		require.Contains(t, out.String(), "\n  $"+s.name+"\n    \t"+s.usage+"\n")
	}
	require.Contains(t, out.String(), "HERALD_TOKEN")
}

func kindOf(f *flag.Flag) string {
	kind, _ := flag.UnquoteUsage(f)
	return kind
}

// heraldd binds its address before it creates or opens its data file: a
// port already taken leaves no stray file behind (issue 14 item 16).
func TestTakenPortLeavesNoDataFile(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	for _, extra := range [][]string{nil, {"--pools"}} {
		dir := t.TempDir()
		data := filepath.Join(dir, "heraldd.db")
		args := append([]string{"--listen", taken.Addr().String(), "--data", data}, extra...)
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, nil)
		require.Error(t, err, "%v", args)
		var op *net.OpError
		require.True(t, errors.As(err, &op), "%v: a listen error, got %v", args, err)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries, "%v left files behind", args)
	}
}
