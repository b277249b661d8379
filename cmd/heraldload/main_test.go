package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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
