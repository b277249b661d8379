package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// config is heraldd's configuration, from flags and HERALD_ variables.
type config struct {
	listen    string
	data      string
	auth      string
	tokenFile string
	token     string // HERALD_TOKEN only: never a flag, so never in ps
	admin     bool
	// adminTokenFile and adminToken (HERALD_ADMIN_TOKEN only) are the
	// tokens that may use the admin routes under --auth token.
	adminTokenFile string
	adminToken     string
	poolDir        string
	pools          bool
	memorySchemes  string
	// memoryPoolSchemes is --memory-pool-schemes split at commas.
	memoryPoolSchemes []string
	laxClientID       bool
	signedURLKeyFile  string
	signedURLKey      string // HERALD_SIGNED_URL_KEY only
	denyPrivate       bool
	requireConfirm    bool
	maxPostSize       int
	maxMetadata       int
	maxPerPage        int
	maxMessageTTL     time.Duration
	// maxQueues and maxSubscriptions are herald.Limits'
	// MaxQueuesPerProject and MaxSubscriptionsPerQueue (0: the default).
	maxQueues        int
	maxSubscriptions int
	shutdownTimeout  time.Duration
	// maxConns caps open client connections; idleTimeout closes a
	// keep-alive connection idle that long.
	maxConns    int
	idleTimeout time.Duration
	logFormat   string
	accessLog   bool
}

// parseConfig reads flags, with defaults from HERALD_ variables.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("heraldd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8888", "address to listen on")
	fs.StringVar(&c.data, "data", "heraldd.db", "path of the bolt file (created if missing)")
	fs.StringVar(&c.auth, "auth", "noauth", `"noauth" (project from X-Project-ID) or "token" (static bearer tokens)`)
	fs.StringVar(&c.tokenFile, "token-file", "", `file of tokens for --auth token, one "token [project]" per line`)
	fs.BoolVar(&c.admin, "admin", false, "serve the admin routes: GET /v2/health, and with --pools /v2/pools and /v2/flavors; under noauth only to requests with X-Roles: admin, under --auth token only to the admin tokens (--admin-token-file, HERALD_ADMIN_TOKEN)")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "file of admin tokens for --auth token --admin, one per line")
	fs.StringVar(&c.poolDir, "pool-dir", "", "directory a bolt:// pool file must be in (default: the directory of --data)")
	fs.BoolVar(&c.pools, "pools", false, `run pooled: --data holds the catalog and is pool "default"; with --admin, pools (bolt:///abs/path.db, memory:) and flavors are managed over /v2/pools and /v2/flavors`)
	fs.StringVar(&c.memorySchemes, "memory-pool-schemes", "", "comma-separated URI schemes a --pools pool opens as a memory store (for tests; e.g. mongodb)")
	fs.BoolVar(&c.laxClientID, "lax-client-id", false, "accept any Client-ID of 10 to 36 bytes instead of a UUID")
	fs.StringVar(&c.signedURLKeyFile, "signed-url-key-file", "", "file holding the key that signs pre-signed queue URLs (off if unset)")
	fs.BoolVar(&c.denyPrivate, "deny-private-webhooks", false, "refuse webhooks to loopback, private and link-local addresses (literal addresses when subscribing, names when dialled)")
	fs.BoolVar(&c.requireConfirm, "require-confirmation", false, "deliver nothing to a subscription before it is confirmed")
	fs.IntVar(&c.maxPostSize, "max-messages-post-size", 256<<10, "largest message POST body in bytes")
	fs.IntVar(&c.maxMetadata, "max-queue-metadata", 64<<10, "largest queue metadata (and other small bodies) in bytes")
	fs.IntVar(&c.maxPerPage, "max-per-page", 20, "largest page, id list, claim or pop")
	fs.DurationVar(&c.maxMessageTTL, "max-message-ttl", 14*24*time.Hour, "longest message TTL")
	fs.IntVar(&c.maxQueues, "max-queues-per-project", 10_000, "most queues one project may have (0: herald's default)")
	fs.IntVar(&c.maxSubscriptions, "max-subscriptions-per-queue", 100, "most subscriptions one queue may have (0: herald's default)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may run on after SIGTERM")
	fs.IntVar(&c.maxConns, "max-conns", 0, "most client connections open at once; at the cap idle keep-alive connections are closed first and new clients wait for a slot (0: 1,024, or half the open-file limit if lower, and at most the limit less 64)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 30*time.Second, "close a keep-alive connection idle this long")
	fs.StringVar(&c.logFormat, "log-format", "text", `"text" or "json"`)
	fs.BoolVar(&c.accessLog, "access-log", true, "log every request")
	fs.Usage = func() { usage(fs) }
	if testFlags != nil {
		testFlags(fs)
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f)
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, s := range secrets {
		*s.field(c) = getenv(s.name)
	}
	switch c.auth {
	case "noauth", "token":
	default:
		return nil, fmt.Errorf("--auth %q: want noauth or token", c.auth)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	if c.maxPostSize <= 0 || c.maxMetadata <= 0 || c.maxPerPage <= 0 || c.maxMessageTTL <= 0 {
		return nil, errors.New("limits must be positive")
	}
	if c.maxQueues < 0 || c.maxSubscriptions < 0 {
		return nil, errors.New("--max-queues-per-project and --max-subscriptions-per-queue must not be negative")
	}
	if c.idleTimeout <= 0 {
		return nil, fmt.Errorf("--idle-timeout %v: want more than 0", c.idleTimeout)
	}
	if c.maxConns == 0 {
		c.maxConns = defaultMaxConns(fdLimit())
	}
	if err := checkMaxConns(c.maxConns, fdLimit()); err != nil {
		return nil, err
	}
	for s := range strings.SplitSeq(c.memorySchemes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.memoryPoolSchemes = append(c.memoryPoolSchemes, s)
		}
	}
	if len(c.memoryPoolSchemes) > 0 && !c.pools {
		return nil, errors.New("--memory-pool-schemes needs --pools")
	}
	if c.auth == "noauth" && (c.tokenFile != "" || c.token != "" || c.adminTokenFile != "" || c.adminToken != "") {
		// Tokens without --auth token would leave the server open while
		// its operator believes it locked.
		return nil, errors.New("tokens are given but --auth is noauth: add --auth token")
	}
	if c.auth == "token" && c.admin && c.adminTokenFile == "" && c.adminToken == "" {
		return nil, errors.New("--admin with --auth token needs --admin-token-file or HERALD_ADMIN_TOKEN: the admin routes manage every project's pools")
	}
	if c.signedURLKeyFile != "" {
		b, err := os.ReadFile(c.signedURLKeyFile)
		if err != nil {
			return nil, err
		}
		c.signedURLKey = strings.TrimSpace(string(b))
	}
	return c, nil
}

// testFlags, set by tests, sees the flag set parseConfig defines.
var testFlags func(*flag.FlagSet)

// envName is the variable that sets flag f: HERALD_ and its name in
// capitals with '_' for '-'.
func envName(f *flag.Flag) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// secrets are read from the environment only: never flags, so never in
// the process list.
var secrets = []struct {
	name, usage string
	field       func(*config) *string
}{
	{"HERALD_TOKEN", "a token for --auth token, valid for any project (as one line of --token-file with no project)",
		func(c *config) *string { return &c.token }},
	{"HERALD_ADMIN_TOKEN", "a token for the admin routes under --auth token --admin",
		func(c *config) *string { return &c.adminToken }},
	{"HERALD_SIGNED_URL_KEY", "the key that signs pre-signed queue URLs (as --signed-url-key-file holds)",
		func(c *config) *string { return &c.signedURLKey }},
}

// usage prints heraldd -h: the flags with the variable that sets each,
// then the secrets, both from the tables parseConfig reads.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: heraldd [flags]

heraldd serves herald over OpenStack Zaqar's v2 REST API on one bolt file.
Every flag can also be set by the environment variable named beside it; a
flag on the command line wins.

`)
	fs.VisitAll(func(f *flag.Flag) {
		kind, text := flag.UnquoteUsage(f)
		if kind != "" {
			kind = " " + kind
		}
		fmt.Fprintf(w, "  -%s%s  ($%s)\n    \t%s", f.Name, kind, envName(f), strings.ReplaceAll(text, "\n", "\n    \t"))
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case kind == " string":
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprint(w, "\nSecrets, from the environment only (never flags, so never in the process list):\n")
	for _, s := range secrets {
		fmt.Fprintf(w, "  $%s\n    \t%s\n", s.name, s.usage)
	}
}

// tokens returns the token → project map of --auth token.
func (c *config) tokens() (map[string]string, error) {
	out := map[string]string{}
	if c.token != "" {
		out[c.token] = ""
	}
	if c.tokenFile != "" {
		f, err := os.Open(c.tokenFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			fields := strings.Fields(sc.Text())
			switch {
			case len(fields) == 0 || strings.HasPrefix(fields[0], "#"):
			case len(fields) <= 2:
				out[fields[0]] = strings.Join(fields[1:], "")
			default:
				return nil, fmt.Errorf("%s:%d: want \"token [project]\"", c.tokenFile, n)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--auth token needs --token-file or HERALD_TOKEN")
	}
	return out, nil
}

// adminTokens returns the admin tokens of --auth token --admin.
func (c *config) adminTokens() ([]string, error) {
	var out []string
	if c.adminToken != "" {
		out = append(out, c.adminToken)
	}
	if c.adminTokenFile != "" {
		b, err := os.ReadFile(c.adminTokenFile)
		if err != nil {
			return nil, err
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no admin token")
	}
	return out, nil
}
