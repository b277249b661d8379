package herald_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// errorCase is one bad call: the error it must match besides ErrInvalid's
// family, and its exact text.
type errorCase struct {
	name string
	want error
	text string
	call func() error
}

func requireErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		err := tc.call()
		require.ErrorIs(t, err, tc.want, tc.name)
		require.EqualError(t, err, tc.text, tc.name)
		requireOnePrefix(t, err, tc.name)
	}
}

// Bad input matches ErrInvalid and, where one fits, its more specific
// child, as errors.go promises: counts are ErrInvalidLimit, durations
// ErrInvalidTTL or ErrInvalidDelay, sizes ErrTooLarge. A new user found
// these matching only ErrInvalid.
func TestInvalidInputKinds(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	q := svc.Queue("jobs")
	ok := func(context.Context, herald.Message) error { return nil }
	consume := func(o herald.ConsumeOptions) func() error {
		return func() error { return q.Consume(ctx, ok, o) }
	}
	limits := func(l herald.Limits) func() error {
		return func() error {
			m := newMemory()
			defer func() { require.NoError(t, m.Close()) }()
			_, err := herald.New(herald.Options{Store: m, Limits: l})
			return err
		}
	}
	requireErrorCases(t, []errorCase{
		{"consume max attempts", herald.ErrInvalidLimit, `herald: consume max attempts -1: negative`,
			consume(herald.ConsumeOptions{MaxAttempts: -1})},
		{"consume concurrency", herald.ErrInvalidLimit, `herald: consume concurrency -1: negative`,
			consume(herald.ConsumeOptions{Concurrency: -1})},
		{"consume stop timeout", herald.ErrInvalidTTL, `herald: consume stop timeout -1s: negative`,
			consume(herald.ConsumeOptions{StopTimeout: -time.Second})},
		{"backoff factor", herald.ErrInvalidDelay, `herald: backoff factor 0.5: want a number from 1`,
			consume(herald.ConsumeOptions{Backoff: herald.Backoff{Factor: 0.5}})},
		{"backoff jitter", herald.ErrInvalidDelay, `herald: backoff jitter 2: want at most 1`,
			consume(herald.ConsumeOptions{Backoff: herald.Backoff{Jitter: 2}})},
		{"claim wait", herald.ErrInvalidTTL, `herald: claim wait -1s: negative`,
			func() error { _, err := q.Claim(ctx, herald.ClaimOptions{Wait: -time.Second}); return err }},
		{"dedup id", herald.ErrTooLarge, `herald: message 0: dedup id of 300 bytes: more than 256`,
			func() error { _, err := q.Post(ctx, herald.Draft{DedupID: strings.Repeat("d", 300)}); return err }},
		{"Limits count", herald.ErrInvalidLimit, `herald: Limits.MaxMessagesPerCall -1: negative`,
			limits(herald.Limits{MaxMessagesPerCall: -1})},
		{"Limits size", herald.ErrInvalidLimit, `herald: Limits.MaxMessageSize -1: negative`,
			limits(herald.Limits{MaxMessageSize: -1})},
		{"Limits ttl", herald.ErrInvalidTTL, `herald: Limits.MaxClaimTTL -1s: negative`,
			limits(herald.Limits{MaxClaimTTL: -time.Second})},
		{"Limits delay", herald.ErrInvalidDelay, `herald: Limits.MaxMessageDelay -1s: negative`,
			limits(herald.Limits{MaxMessageDelay: -time.Second})},
		{"Limits ttl order", herald.ErrInvalidTTL,
			`herald: Limits: DefaultMessageTTL must be MinMessageTTL to MaxMessageTTL (1h0m0s to 2h0m0s), got 1m0s`,
			limits(herald.Limits{MinMessageTTL: time.Hour, MaxMessageTTL: 2 * time.Hour, DefaultMessageTTL: time.Minute})},
		{"Limits grace order", herald.ErrInvalidTTL, `herald: Limits: claim grace default 2h0m0s above 1h0m0s`,
			limits(herald.Limits{MaxClaimGrace: time.Hour, DefaultClaimGrace: 2 * time.Hour})},
		{"Limits default over max", herald.ErrInvalidLimit,
			`herald: Limits: default claim limit 20 or page size 10 above MaxMessagesPerCall 10`,
			limits(herald.Limits{MaxMessagesPerCall: 10, DefaultClaimLimit: 20})},
		{"pool weight", herald.ErrInvalidLimit, `herald: pool "a": weight -1: negative`,
			func() error {
				_, err := herald.New(herald.Options{Pools: []herald.Pool{{Name: "a", Store: newMemory(), Weight: -1}}})
				return err
			}},
		// No child fits a missing func: ErrInvalid alone, named.
		{"nil handler", herald.ErrInvalid, `herald: consume of "jobs": nil handler`,
			func() error { return q.Consume(ctx, nil, herald.ConsumeOptions{}) }},
		{"nil observer", herald.ErrInvalid, `herald: observe "jobs": nil func`,
			func() error { _, err := q.Observe(nil); return err }},
	})
}

// The zero ID names nothing: every call that takes a message, claim,
// subscription or delivery id refuses it with ErrInvalidID, on a placed
// queue and on one no pool holds. A new user got "herald: message  is
// gone (…)" from Delete and "message  in queue \"jobs\" not found" from
// Get instead.
func TestZeroIDIsInvalid(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	q := svc.Queue("jobs")
	ids := post(t, q, "a", "b")
	cl, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	held := cl.Messages[0].ID
	zero := herald.ID{}
	pooled := newService(t, func(o *herald.Options) {
		o.Store, o.Pools = nil, []herald.Pool{{Name: "a", Store: newMemory(), Weight: 1}}
	})
	nowhere := pooled.Queue("nope")
	const msgID, claimID = `herald: message id: zero id`, `herald: claim id: zero id`
	tx := func(build func(tx *herald.Tx)) func() error {
		return func() error {
			_, err := svc.Tx(ctx, func(tx *herald.Tx) error { build(tx); return nil })
			return err
		}
	}
	requireErrorCases(t, []errorCase{
		{"Get", herald.ErrInvalidID, msgID, func() error { _, err := q.Get(ctx, zero); return err }},
		{"GetMany names which", herald.ErrInvalidID, `herald: message id 2 of 2: zero id`,
			func() error { _, err := q.GetMany(ctx, ids[0], zero); return err }},
		{"Delete", herald.ErrInvalidID, msgID, func() error { return q.Delete(ctx, zero) }},
		{"ForceDelete", herald.ErrInvalidID, msgID, func() error { return q.ForceDelete(ctx, zero) }},
		{"Claim.Delete", herald.ErrInvalidID, `herald: message id 2 of 2: zero id`,
			func() error { return cl.Delete(ctx, held, zero) }},
		{"DeleteAndClaim", herald.ErrInvalidID, msgID,
			func() error { _, err := cl.DeleteAndClaim(ctx, herald.ClaimOptions{}, zero); return err }},
		{"Release with ids", herald.ErrInvalidID, msgID, func() error { return cl.Release(ctx, 0, zero) }},
		{"GetClaim", herald.ErrInvalidID, claimID, func() error { _, err := q.GetClaim(ctx, zero); return err }},
		{"ClaimByID Delete", herald.ErrInvalidID, claimID, func() error { return q.ClaimByID(zero).Delete(ctx, held) }},
		{"ClaimByID Renew", herald.ErrInvalidID, claimID, func() error { return q.ClaimByID(zero).Renew(ctx, time.Minute) }},
		{"ClaimByID Release", herald.ErrInvalidID, claimID, func() error { return q.ClaimByID(zero).Release(ctx, 0) }},
		{"ClaimByID DeleteAndClaim", herald.ErrInvalidID, claimID,
			func() error { _, err := q.ClaimByID(zero).DeleteAndClaim(ctx, herald.ClaimOptions{}, held); return err }},
		{"ClaimByID DeleteAndClaim without ids", herald.ErrInvalidID, claimID,
			func() error { _, err := q.ClaimByID(zero).DeleteAndClaim(ctx, herald.ClaimOptions{}); return err }},
		{"Tx.Delete", herald.ErrInvalidID, `herald: transaction op 0: message id: zero id`,
			tx(func(tx *herald.Tx) { tx.Delete(q, zero) })},
		{"Tx.DeleteClaimed", herald.ErrInvalidID, `herald: transaction op 0: message id 2 of 2: zero id`,
			tx(func(tx *herald.Tx) { tx.DeleteClaimed(cl, held, zero) })},
		{"Tx.DeleteClaimed through ClaimByID", herald.ErrInvalidID, claimID,
			tx(func(tx *herald.Tx) { tx.DeleteClaimed(q.ClaimByID(zero), held) })},
		{"DeleteDamaged", herald.ErrInvalidID, msgID, func() error { return q.DeleteDamaged(ctx, zero) }},
		{"Subscription", herald.ErrInvalidID, `herald: subscription id: zero id`,
			func() error { _, err := q.Subscription(ctx, zero); return err }},
		{"Unsubscribe", herald.ErrInvalidID, `herald: subscription id: zero id`, func() error { return q.Unsubscribe(ctx, zero) }},
		{"RetryDeliveries", herald.ErrInvalidID, `herald: delivery id: zero id`,
			func() error { _, err := q.RetryDeliveries(ctx, zero); return err }},
		// A queue no pool holds answers the same.
		{"unplaced Get", herald.ErrInvalidID, msgID, func() error { _, err := nowhere.Get(ctx, zero); return err }},
		{"unplaced Delete", herald.ErrInvalidID, msgID, func() error { return nowhere.Delete(ctx, zero) }},
		{"unplaced GetClaim", herald.ErrInvalidID, claimID, func() error { _, err := nowhere.GetClaim(ctx, zero); return err }},
		{"unplaced ClaimByID Release", herald.ErrInvalidID, claimID, func() error { return nowhere.ClaimByID(zero).Release(ctx, 0) }},
	})
	// Nothing changed: both messages are there, one still held by cl.
	msgs, err := q.GetMany(ctx, ids...)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	got, err := q.GetClaim(ctx, cl.ID)
	require.NoError(t, err)
	require.Len(t, got.Messages, 1)
}

// Every re-exported error in errors.go has its own doc comment, so that
// go doc herald.ErrMessageGone says what it means (it printed the bare
// var block).
func TestErrorsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	require.NoError(t, err)
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for _, name := range vs.Names {
				n++
				require.NotNil(t, vs.Doc, "%s has no doc comment", name.Name)
				require.True(t, strings.HasPrefix(vs.Doc.Text(), name.Name+" "), "%s: the doc starts with its name: %q", name.Name, vs.Doc.Text())
			}
		}
	}
	require.Equal(t, 23, n, "errors.go re-exports every sentinel of store")
}

// A settle through a nil claim says where one comes from, and one through
// a claim whose lease ended says so (both read as a bare "empty claim" or
// "is not claimed (claim …)" before).
func TestClaimErrorTexts(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	q := svc.Queue("jobs")
	ids := post(t, q, "a")
	cl, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Release(ctx, 0))
	empty, err := svc.Queue("empty").Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	var none *herald.Claim
	notClaimed := "herald: message " + ids[0].String() + " is not claimed: claim " + cl.ID.String() +
		" expired or was released, or never held it"
	requireErrorCases(t, []errorCase{
		{"Tx.DeleteClaimed nil", herald.ErrClaimNotFound, `herald: delete through a nil claim (ClaimOf outside a Consume handler?)`,
			func() error {
				_, err := svc.Tx(ctx, func(tx *herald.Tx) error { tx.DeleteClaimed(nil, ids[0]); return nil })
				return err
			}},
		{"Claim.Delete nil", herald.ErrClaimNotFound, `herald: delete through a nil claim (ClaimOf outside a Consume handler?)`,
			func() error { return none.Delete(ctx, ids[0]) }},
		{"DeleteAndClaim nil", herald.ErrClaimNotFound, `herald: claim through a nil claim (ClaimOf outside a Consume handler?)`,
			func() error { _, err := none.DeleteAndClaim(ctx, herald.ClaimOptions{}); return err }},
		{"empty claim", herald.ErrClaimNotFound, `herald: renew through an empty claim: one that found no messages holds none`,
			func() error { return empty.Renew(ctx, 0) }},
		{"released claim", herald.ErrNotClaimed, notClaimed, func() error { return cl.Delete(ctx, ids[0]) }},
		{"released claim in a Tx", herald.ErrNotClaimed, "herald: transaction op 0: " + strings.TrimPrefix(notClaimed, "herald: "),
			func() error {
				_, err := svc.Tx(ctx, func(tx *herald.Tx) error { tx.DeleteClaimed(cl, ids[0]); return nil })
				return err
			}},
	})
}
