// Command heraldd serves herald over OpenStack Zaqar's v2 REST API on one
// bolt file, so that Zaqar clients (python-zaqarclient, the OpenStack CLI,
// gophercloud) work against a single Go binary.
//
//	go run ./cmd/heraldd                      # 127.0.0.1:8888, ./heraldd.db, noauth
//	heraldd --listen 127.0.0.1:9000 --data /var/lib/herald/herald.db \
//	        --auth token --token-file /etc/herald/tokens
//
// Every flag can also be set in the environment as HERALD_ and its name in
// capitals with '_' for '-' (HERALD_LISTEN, HERALD_DATA, HERALD_AUTH …); a
// flag on the command line wins. Run heraldd -h for the list.
//
// Auth modes: "noauth" (the default) takes the project from X-Project-ID,
// as Zaqar's noauth mode does, so it is for loopback and trusted networks
// only; "token" requires a static bearer token (Authorization: Bearer, or
// X-Auth-Token), read from --token-file (one "token [project]" per line; a
// project pins the token to it) and/or HERALD_TOKEN (any project).
//
// --pools runs a pooled Service: the data file holds the catalog and is
// the pool "default" (Zaqar's virtual pool: it takes the queues no other
// pool without a flavor takes). With --admin, /v2/pools and /v2/flavors
// then add pools on bolt files (bolt:///abs/path.db, inside --pool-dir,
// by default the data file's directory) or memory stores (memory:) and
// group them into flavors; they are kept in <data>.pools.json and added
// again at start. The admin routes (health, pools, flavors) answer only
// admins: under noauth the requests that send X-Roles: admin, as Zaqar's
// noauth mode asks, and under --auth token only the admin tokens
// (--admin-token-file, HERALD_ADMIN_TOKEN), since they manage every
// project's pools. Without --pools heraldd serves the one bolt file, and
// no pools routes.
//
// --deny-private-webhooks refuses webhook subscribers on loopback, private,
// link-local and other non-public addresses: a URL whose host is such an
// address is refused at subscribe time (400), a host name when it is
// dialled.
//
// One tenant cannot take the server from the others: a project may have
// --max-queues-per-project queues (default 10,000) and a queue
// --max-subscriptions-per-queue subscriptions (default 100); past them
// creating one more answers 400 (L1, L2). heraldd keeps at most
// --max-conns client connections open (default 1,024, or half the
// open-file limit if lower; refused above the limit less 64): at the cap
// it closes the connection idle longest for each new client, and a new
// client finds every connection busy only while every one is mid-request,
// then waits in the accept queue for the first to finish. Idle keep-alive
// connections close after --idle-timeout (default 30 s).
//
// SIGTERM or SIGINT stops heraldd gracefully: it stops accepting
// connections, lets requests in flight finish (up to --shutdown-timeout),
// then closes the store. Access logs go to stderr through log/slog, a line
// a request; its project is the one the request was served under (under
// --auth token a pinned token's project, not the X-Project-ID it claims),
// empty for a request refused before it had one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { // after the first signal, a second one kills at once
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage is printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "heraldd:", err)
		os.Exit(1)
	}
}
