package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/httpapi"
)

// testWrap, set by tests, wraps the handler to see requests arrive.
var testWrap func(http.Handler) http.Handler

// run serves until ctx ends, then shuts down gracefully. listening, if not
// nil, is told the bound address (tests listen on port 0).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, listening func(net.Addr)) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var lh slog.Handler = slog.NewTextHandler(stderr, nil)
	if c.logFormat == "json" {
		lh = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(lh)

	opts := httpapi.Options{
		LaxClientID: c.laxClientID, Admin: c.admin, SignedURLKey: c.signedURLKey,
		MaxMessagesPostSize: c.maxPostSize, MaxQueueMetadata: c.maxMetadata, MaxPerPage: c.maxPerPage,
		Logger: log,
	}
	if c.auth == "token" {
		tokens, err := c.tokens()
		if err != nil {
			return err
		}
		if c.admin {
			admins, err := c.adminTokens()
			if err != nil {
				return err
			}
			for _, t := range admins {
				tokens[t] = "" // an admin token is valid for any project
			}
			opts.IsAdmin = httpapi.TokenIn(admins...)
		}
		opts.Auth = httpapi.TokenAuth(tokens)
	}

	// The address first: a heraldd that cannot serve (the port is taken)
	// must leave no data file behind it.
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close() // Serve closes it too; this covers the failures before Serve

	st, err := bolt.Open(c.data, nil)
	if err != nil {
		return err
	}
	limits := herald.Limits{
		MaxPostSize: c.maxPostSize, MaxMessageSize: c.maxPostSize, MaxMetadataSize: c.maxMetadata,
		MaxMessageTTL:       c.maxMessageTTL,
		MaxQueuesPerProject: c.maxQueues, MaxSubscriptionsPerQueue: c.maxSubscriptions,
	}
	hopts := herald.Options{
		Store: st, Limits: limits, Logger: log,
		Notify: herald.NotifyOptions{DenyPrivateTargets: c.denyPrivate, RequireConfirmation: c.requireConfirm},
	}
	if c.pools {
		opts.OpenPool, err = poolOpener(c)
		if err != nil {
			return errors.Join(err, st.Close())
		}
		opts.VirtualPool = defaultPool
		hopts.Store, hopts.Pools = nil, []herald.Pool{{Name: defaultPool, Store: st, Weight: 1}}
	}
	svc, err := herald.New(hopts)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	if c.pools {
		saved := poolsFile(c)
		if opts.Pools, err = loadPools(saved); err == nil {
			err = restorePools(ctx, svc, opts.OpenPool, opts.Pools)
		}
		if err != nil {
			return errors.Join(err, svc.Close())
		}
		opts.PoolsChanged = func(ps []httpapi.PoolConfig) error { return savePools(saved, ps) }
	}

	var h http.Handler = httpapi.New(svc, opts)
	if c.accessLog {
		h = accessLog(log, h)
	}
	if testWrap != nil {
		h = testWrap(h)
	}
	conns := newConnGuard(c.maxConns)
	ln = conns.listen(ln)
	srv := &http.Server{
		Handler:           conns.handler(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // a body dripped slower than that holds nothing for long
		IdleTimeout:       c.idleTimeout,
		ConnState:         conns.connState,
		ErrorLog:          slog.NewLogLogger(lh, slog.LevelWarn),
	}
	log.Info("heraldd listening", "addr", ln.Addr().String(), "data", c.data, "auth", c.auth, "pools", c.pools, "max_conns", c.maxConns)
	if listening != nil {
		listening(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		log.Info("heraldd shutting down", "timeout", c.shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.Join(err, srv.Close()) // cut what is left before the store closes
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if cerr := svc.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err == nil {
		log.Info("heraldd stopped")
	}
	return err
}
