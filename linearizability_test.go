package herald_test

// Linearizability (RELIABILITY.md suite 3): concurrent clients run random
// posts, claims, deletes (through their own claims, through stale, bogus and
// foreign claim IDs, and with no claim), releases and renewals on one queue;
// porcupine checks every history against a sequential model of the queue.
//
// Model design. Message and claim IDs are chosen by the store, so the model
// learns them from outputs: a post's output carries the IDs it was given,
// a claim's output the claim ID and the message IDs it got. The state is the
// list of stored messages in ID order, each with the claim holding it (zero
// if free), plus the highest message ID posted so far. A claim is live
// exactly while it holds a message: the store contract ends a claim when it
// is released, when it expires, or when its last message leaves it.
//
//   - Post(n) must return n IDs, strictly increasing and above every ID
//     posted before (M2); the messages join the state free.
//   - Claim(limit) must return exactly the min(limit, free) oldest free
//     messages, in ID order, under a claim ID that is not live (C1); a claim
//     that finds nothing returns no claim. FIFO is modelled exactly: both
//     stores select and mark inside one critical section / transaction, so
//     the linearization point is well defined. Claim IDs are also checked
//     to be unique over the whole history outside the model (C3).
//   - Delete(ids, claim) follows M8 message by message: with no claim
//     missing IDs are skipped and a claimed message gives ErrClaimMismatch;
//     with a claim (a settle), a missing message gives ErrMessageGone
//     (C3: the claim no longer holds it, whoever deleted it), a free one
//     ErrNotClaimed and one under another claim ErrClaimMismatch. One
//     failing message fails the whole call and deletes nothing. The model
//     accepts the error of any failing message.
//   - Settle(ids, claim) is Service.Tx{DeleteClaimed(claim, ids); Post(out)}:
//     the delete as above, and on success one result posted to the
//     queue's output queue; a failed settle posts nothing.
//   - Count reads the output queue's total: it must equal the number of
//     settles that succeeded, so a second result for one input (a stale
//     claimant settling what a newer one settled) is caught.
//   - Release(claim) frees a live claim's messages; for a released,
//     never-issued or foreign claim it is a no-op and returns nil (C5).
//   - Renew(claim) succeeds on a live claim and gives ErrClaimNotFound
//     otherwise (C4).
//
// Time is kept out of the model: the service runs on the real clock, every
// claim lives an hour and every message an hour, and a history takes
// milliseconds, so nothing expires or is delayed while it runs. A
// hand-driven clock was rejected because herald reads Now before the store
// takes its lock: an operation that read an older Now can linearize after
// a clock step, so the time an operation acts at is not fixed by its place
// in the history and the model could not say what had expired. Expiry is
// checked by the stress suite (stress_test.go) and the rapid model instead.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

type linKind uint8

const (
	linPost linKind = iota + 1
	linClaim
	linDelete
	linRelease
	linRenew
	linSettle
	linCount
)

// linErr is the kind of error an operation returned.
type linErr uint8

const (
	linOK linErr = iota
	linNotClaimed
	linMismatch
	linClaimNotFound
	linGone
	linOther
)

func (e linErr) String() string {
	return [...]string{"ok", "ErrNotClaimed", "ErrClaimMismatch", "ErrClaimNotFound", "ErrMessageGone", "other"}[e]
}

func linErrOf(err error) linErr {
	switch {
	case err == nil:
		return linOK
	case errors.Is(err, herald.ErrMessageGone): // before its parent
		return linGone
	case errors.Is(err, herald.ErrNotClaimed):
		return linNotClaimed
	case errors.Is(err, herald.ErrClaimMismatch):
		return linMismatch
	case errors.Is(err, herald.ErrClaimNotFound):
		return linClaimNotFound
	}
	return linOther
}

type linInput struct {
	Kind linKind
	N    int         // post: messages; claim: limit
	IDs  []herald.ID // delete: the messages
	// Claim is the claim a delete, release or renew goes through; zero for
	// a plain delete. How acts as a label only (own, stale, bogus,
	// foreign): the model decides from the state, not from the label.
	Claim herald.ID
	How   string
}

type linOutput struct {
	IDs   []herald.ID // post: the new IDs; claim: the messages got
	Claim herald.ID   // claim: the new claim
	N     int         // count: the output queue's total
	Err   linErr
	Msg   string // the error text, for the visualization
}

type linMsg struct {
	id, claim herald.ID
	count     int // claim count (C6)
}

// linState is immutable: Step returns a new one.
type linState struct {
	// max is the queue's _max_claim_count, with a _dead_letter_queue set;
	// 0 when dead-lettering is off.
	max  int
	last herald.ID
	msgs []linMsg // in ID order
	out  int      // results the settles posted
}

func (s linState) live(c herald.ID) bool {
	if c.IsZero() {
		return false
	}
	for _, m := range s.msgs {
		if m.claim == c {
			return true
		}
	}
	return false
}

func (s linState) find(id herald.ID) int {
	i, ok := slices.BinarySearchFunc(s.msgs, id, func(m linMsg, id herald.ID) int { return m.id.Compare(id) })
	if !ok {
		return -1
	}
	return i
}

func linStep(st any, in any, out any) (bool, any) {
	s, i, o := st.(linState), in.(linInput), out.(linOutput)
	switch i.Kind {
	case linPost:
		if o.Err != linOK || len(o.IDs) != i.N {
			return false, s
		}
		n := s
		n.msgs = slices.Clone(s.msgs)
		for _, id := range o.IDs {
			if id.Compare(n.last) <= 0 {
				return false, s // M2: strictly increasing, never reused
			}
			n.last = id
			n.msgs = append(n.msgs, linMsg{id: id})
		}
		return true, n

	case linClaim:
		if o.Err != linOK {
			return false, s
		}
		// C1 and C6: the oldest free messages, in ID order; on the way,
		// those already claimed max times leave for the dead-letter
		// queue (which the model does not follow).
		var want []int
		moved := map[int]bool{}
		for j, m := range s.msgs {
			if len(want) == i.N {
				break
			}
			switch {
			case !m.claim.IsZero():
			case s.max > 0 && m.count >= s.max:
				moved[j] = true
			default:
				want = append(want, j)
			}
		}
		if len(o.IDs) != len(want) {
			return false, s
		}
		if len(want) > 0 && (o.Claim.IsZero() || s.live(o.Claim)) || len(want) == 0 && !o.Claim.IsZero() {
			return false, s
		}
		n := s
		n.msgs = nil
		for j, m := range s.msgs {
			if moved[j] {
				continue
			}
			if k := slices.Index(want, j); k >= 0 {
				if o.IDs[k] != m.id {
					return false, s
				}
				m.claim = o.Claim
				m.count++
			}
			n.msgs = append(n.msgs, m)
		}
		return true, n

	case linDelete, linSettle:
		var allowed []linErr
		var del []int
		for _, id := range i.IDs {
			j := s.find(id)
			if j < 0 {
				if !i.Claim.IsZero() {
					allowed = append(allowed, linGone) // C3: nothing to settle
				}
				continue // M8: without a claim a missing message deletes fine
			}
			m := s.msgs[j]
			switch {
			case i.Claim.IsZero() && !m.claim.IsZero():
				allowed = append(allowed, linMismatch)
			case !i.Claim.IsZero() && m.claim.IsZero():
				allowed = append(allowed, linNotClaimed)
			case m.claim != i.Claim:
				allowed = append(allowed, linMismatch)
			}
			del = append(del, j)
		}
		if len(allowed) > 0 {
			return slices.Contains(allowed, o.Err), s
		}
		if o.Err != linOK {
			return false, s
		}
		n := s
		n.msgs = nil
		for j, m := range s.msgs {
			if !slices.Contains(del, j) {
				n.msgs = append(n.msgs, m)
			}
		}
		if i.Kind == linSettle {
			n.out++
		}
		return true, n

	case linCount:
		return o.Err == linOK && o.N == s.out, s

	case linRelease:
		if o.Err != linOK {
			return false, s
		}
		if !s.live(i.Claim) {
			return true, s // C5: no-op
		}
		n := s
		n.msgs = slices.Clone(s.msgs)
		for j := range n.msgs {
			if n.msgs[j].claim == i.Claim {
				n.msgs[j].claim = herald.ID{}
			}
		}
		return true, n

	case linRenew:
		if s.live(i.Claim) {
			return o.Err == linOK, s
		}
		return o.Err == linClaimNotFound, s
	}
	return false, s
}

func short(id herald.ID) string {
	if id.IsZero() {
		return "0"
	}
	s := id.String()
	return s[len(s)-5:]
}

func shorts(ids []herald.ID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = short(id)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// linModelMax returns the model of a queue with _max_claim_count max and a
// dead-letter queue (max 0: no dead-lettering).
func linModelMax(max int) porcupine.Model {
	m := linModel
	m.Init = func() any { return linState{max: max} }
	return m
}

var linModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: linStep,
	Equal: func(a, b any) bool {
		x, y := a.(linState), b.(linState)
		return x.max == y.max && x.last == y.last && x.out == y.out && slices.Equal(x.msgs, y.msgs)
	},
	Hash: func(st any) uint64 {
		s := st.(linState)
		h := fnv.New64a()
		h.Write(s.last[:])
		h.Write([]byte{byte(s.out), byte(s.out >> 8)})
		for _, m := range s.msgs {
			h.Write(m.id[:])
			h.Write(m.claim[:])
			h.Write([]byte{byte(m.count)})
		}
		return h.Sum64()
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(linInput), out.(linOutput)
		res := o.Err.String()
		if o.Err == linOther {
			res = o.Msg
		}
		switch i.Kind {
		case linPost:
			return fmt.Sprintf("post(%d) -> %s %s", i.N, shorts(o.IDs), res)
		case linClaim:
			return fmt.Sprintf("claim(%d) -> %s %s %s", i.N, short(o.Claim), shorts(o.IDs), res)
		case linDelete:
			return fmt.Sprintf("delete(%s, %s claim %s) -> %s", shorts(i.IDs), i.How, short(i.Claim), res)
		case linSettle:
			return fmt.Sprintf("settle(%s, %s claim %s) -> %s", shorts(i.IDs), i.How, short(i.Claim), res)
		case linCount:
			return fmt.Sprintf("count() -> %d %s", o.N, res)
		case linRelease:
			return fmt.Sprintf("release(%s claim %s) -> %s", i.How, short(i.Claim), res)
		case linRenew:
			return fmt.Sprintf("renew(%s claim %s) -> %s", i.How, short(i.Claim), res)
		}
		return "?"
	},
	DescribeState: func(st any) string {
		s := st.(linState)
		var b strings.Builder
		for _, m := range s.msgs {
			fmt.Fprintf(&b, "%s:%s/%d ", short(m.id), short(m.claim), m.count)
		}
		fmt.Fprintf(&b, "out:%d", s.out)
		return b.String()
	},
}

// linShared is what every client of a history knows: the messages posted
// or claimed and the claims made by anyone, so clients act on each other's
// messages and claims.
type linShared struct {
	mu     sync.Mutex
	msgs   []herald.ID
	claims []herald.ID
}

func (sh *linShared) add(msgs []herald.ID, claim herald.ID) {
	sh.mu.Lock()
	sh.msgs = append(sh.msgs, msgs...)
	if !claim.IsZero() {
		sh.claims = append(sh.claims, claim)
	}
	sh.mu.Unlock()
}

func (sh *linShared) pick(r *rand.Rand) (msg, claim herald.ID) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.msgs) > 0 {
		msg = sh.msgs[r.IntN(len(sh.msgs))]
	}
	if len(sh.claims) > 0 {
		claim = sh.claims[r.IntN(len(sh.claims))]
	}
	return msg, claim
}

type linOwnClaim struct {
	id   herald.ID
	msgs []herald.ID
}

// linHistory runs one history of clients × ops on queue name and returns
// its operations and the claim IDs granted.
func linHistory(t *testing.T, svc *herald.Service, name string, maxClaims int, seed uint64, clients, ops int) []porcupine.Operation {
	t.Helper()
	ctx := context.Background()
	q := svc.Queue(name)
	results := svc.Queue(name + "-out") // what settles post
	if maxClaims > 0 {
		_, err := q.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{
			MaxClaimCount: maxClaims, DeadLetterQueue: name + "-dlq",
		}))
		require.NoError(t, err)
	}
	// A live claim on another queue gives foreign claim IDs; a separate ID
	// source gives IDs the store never issued.
	other := svc.Queue(name + "-other")
	post(t, other, "x")
	oc, err := other.Claim(ctx, herald.ClaimOptions{TTL: time.Hour})
	require.NoError(t, err)
	require.NotZero(t, oc.ID)
	foreign := oc.ID
	bogus := store.NewIDSource().Next(time.Now())

	start := time.Now()
	clock := func() int64 { return int64(time.Since(start)) } // monotonic
	claimOpts := herald.ClaimOptions{TTL: time.Hour}
	var sh linShared
	hist := make([][]porcupine.Operation, clients)
	var wg sync.WaitGroup
	begin := make(chan struct{}) // start the clients together
	for c := range clients {
		wg.Go(func() {
			<-begin
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			var own []linOwnClaim
			for range ops {
				var in linInput
				var out linOutput
				x := r.IntN(100)
				switch {
				case x < 14 && len(own) > 0:
					// Delete or settle through one of this client's
					// claims, live or stale (released, and maybe taken
					// and settled by another client since): all its
					// messages or one of them.
					oc := own[r.IntN(len(own))]
					ids := oc.msgs
					if r.IntN(3) == 0 {
						ids = []herald.ID{ids[r.IntN(len(ids))]}
					}
					kind := linDelete
					if r.IntN(2) == 0 {
						kind = linSettle
					}
					in = linInput{Kind: kind, IDs: slices.Clone(ids), Claim: oc.id, How: "own"}
				case x < 22 && len(own) > 0:
					in = linInput{Kind: linRelease, Claim: own[r.IntN(len(own))].id, How: "own"}
				case x < 40:
					in = linInput{Kind: linPost, N: 1 + r.IntN(3)}
				case x < 61:
					in = linInput{Kind: linClaim, N: 1 + r.IntN(3)}
				case x < 65:
					in = linInput{Kind: linCount}
				default:
					// Anyone's messages through anyone's claims, a bogus
					// or a foreign claim, or no claim.
					msg, cl := sh.pick(r)
					how := "any"
					switch r.IntN(5) {
					case 0:
						cl, how = bogus, "bogus"
					case 1:
						cl, how = foreign, "foreign"
					case 2:
						cl, how = herald.ID{}, "no"
					}
					switch y := r.IntN(10); {
					case y < 2 && !msg.IsZero() && !cl.IsZero():
						in = linInput{Kind: linSettle, IDs: []herald.ID{msg}, Claim: cl, How: how}
					case y < 6 && !msg.IsZero():
						in = linInput{Kind: linDelete, IDs: []herald.ID{msg}, Claim: cl, How: how}
					case y < 8 && !cl.IsZero():
						in = linInput{Kind: linRelease, Claim: cl, How: how}
					case !cl.IsZero():
						in = linInput{Kind: linRenew, Claim: cl, How: how}
					default:
						in = linInput{Kind: linClaim, N: 1 + r.IntN(3)}
					}
				}

				call := clock()
				var err error
				switch in.Kind {
				case linPost:
					drafts := make([]herald.Draft, in.N)
					for k := range drafts {
						drafts[k] = herald.Draft{Body: []byte(fmt.Sprintf("c%d-%d", c, k))}
					}
					out.IDs, err = q.Post(ctx, drafts...)
				case linClaim:
					o := claimOpts
					o.Limit = in.N
					var cl *herald.Claim
					if cl, err = q.Claim(ctx, o); err == nil {
						out.Claim = cl.ID
						for _, m := range cl.Messages {
							out.IDs = append(out.IDs, m.ID)
						}
					}
				case linDelete:
					if in.Claim.IsZero() {
						err = q.Delete(ctx, in.IDs...)
					} else {
						err = q.ClaimByID(in.Claim).Delete(ctx, in.IDs...)
					}
				case linRelease:
					err = q.ClaimByID(in.Claim).Release(ctx, 0)
				case linRenew:
					err = q.ClaimByID(in.Claim).Renew(ctx, time.Hour)
				case linSettle:
					_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
						tx.DeleteClaimed(q.ClaimByID(in.Claim), in.IDs...)
						tx.Post(results, herald.Draft{Body: []byte("result")})
						return nil
					})
				case linCount:
					var st herald.Stats
					if st, err = results.Stats(ctx); errors.Is(err, herald.ErrNotFound) {
						err = nil // no settle yet
					}
					out.N = int(st.Total)
				}
				ret := clock()
				out.Err = linErrOf(err)
				if err != nil {
					out.Msg = err.Error()
				}
				hist[c] = append(hist[c], porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				if err != nil {
					continue
				}
				switch in.Kind {
				case linPost:
					sh.add(out.IDs, herald.ID{})
				case linClaim:
					if !out.Claim.IsZero() {
						sh.add(out.IDs, out.Claim)
						own = append(own, linOwnClaim{id: out.Claim, msgs: out.IDs})
					}
				}
			}
		})
	}
	close(begin)
	wg.Wait()
	var all []porcupine.Operation
	for _, h := range hist {
		all = append(all, h...)
	}
	return all
}

// linCheck checks one history; an Illegal or Unknown result fails the test.
func linCheck(t *testing.T, name string, model porcupine.Model, ops []porcupine.Operation) {
	t.Helper()
	// C3: every claim ID granted is unique (the model sees only live ones).
	seen := map[herald.ID]bool{}
	for _, op := range ops {
		if o := op.Output.(linOutput); op.Input.(linInput).Kind == linClaim && !o.Claim.IsZero() {
			require.False(t, seen[o.Claim], "%s: claim ID %s granted twice", name, o.Claim)
			seen[o.Claim] = true
		}
	}
	res := porcupine.CheckOperationsTimeout(model, ops, 10*time.Second)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Illegal:
		_, info := porcupine.CheckOperationsVerbose(model, ops, 0)
		path := filepath.Join(t.TempDir(), name+".html")
		if err := porcupine.VisualizePath(model, info, path); err != nil {
			t.Logf("visualization failed: %v", err)
		}
		var b strings.Builder
		slices.SortFunc(ops, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
		for _, op := range ops {
			fmt.Fprintf(&b, "  c%d [%d,%d] %s\n", op.ClientId, op.Call, op.Return, linModel.DescribeOperation(op.Input, op.Output))
		}
		t.Fatalf("%s: history is not linearizable; visualization at %s\n%s", name, path, b.String())
	default:
		t.Fatalf("%s: linearizability check inconclusive (%s) within 10s", name, res)
	}
}

// runLinearizability runs and checks histories; HERALD_LIN_SCALE=k runs
// k times as many for soak runs.
// With maxClaims > 0 the queue dead-letters messages claimed that often
// (C6).
func runLinearizability(t *testing.T, svc *herald.Service, prefix string, maxClaims, histories, clients, ops int) {
	histories *= soakScale("HERALD_LIN_SCALE")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d: %d histories of %d clients × %d ops, max claim count %d", seed, histories, clients, ops, maxClaims)
	start := time.Now()
	total, overlapping, gone := 0, 0, 0
	for h := range histories {
		name := fmt.Sprintf("%s-%d", prefix, h) // a fresh queue per history
		hist := linHistory(t, svc, name, maxClaims, seed+uint64(h), clients, ops)
		linCheck(t, name, linModelMax(maxClaims), hist)
		total += len(hist)
		overlapping += linOverlapping(hist)
		for _, op := range hist {
			if op.Output.(linOutput).Err == linGone {
				gone++
			}
		}
	}
	t.Logf("%d histories, %d ops (%d concurrent with another client's; %d settles of a gone message refused) in %v",
		histories, total, overlapping, gone, time.Since(start).Round(time.Millisecond))
}

// linOverlapping counts the operations whose interval overlaps one of
// another client: the checker only earns its keep on those.
func linOverlapping(ops []porcupine.Operation) int {
	n := 0
	for i, a := range ops {
		for j, b := range ops {
			if i != j && a.ClientId != b.ClientId && a.Call <= b.Return && b.Call <= a.Return {
				n++
				break
			}
		}
	}
	return n
}

// TestLinearizabilityModelRejects makes sure the model is not vacuous: it
// rejects a claim that skips the oldest free message (C1), a stale claim
// that deletes a message under a newer claim (C3, M8), and issue 14's
// defect: a stale claim whose settle succeeds after the newer claimant
// settled the message, leaving two results.
func TestLinearizabilityModelRejects(t *testing.T) {
	src := store.NewIDSource()
	now := time.Now()
	m1, m2, c1, c2 := src.Next(now), src.Next(now), src.Next(now), src.Next(now)
	seq := func(steps ...[2]any) []porcupine.Operation {
		ops := make([]porcupine.Operation, len(steps))
		for i, s := range steps {
			ops[i] = porcupine.Operation{Input: s[0], Output: s[1], Call: int64(2 * i), Return: int64(2*i + 1)}
		}
		return ops
	}
	posted := [2]any{linInput{Kind: linPost, N: 2}, linOutput{IDs: []herald.ID{m1, m2}}}
	ok := seq(posted,
		[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m1}}},
		[2]any{linInput{Kind: linRelease, Claim: c1}, linOutput{}},
		[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c2, IDs: []herald.ID{m1}}},
		[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}, Claim: c1}, linOutput{Err: linMismatch}},
		[2]any{linInput{Kind: linRenew, Claim: c1}, linOutput{Err: linClaimNotFound}},
		[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}, Claim: c2}, linOutput{}},
		[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m2}, Claim: c2}, linOutput{Err: linNotClaimed}},
		[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}, Claim: c2}, linOutput{Err: linGone}},
		[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}}, linOutput{}},
	)
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(linModel, ok, time.Second))
	takeover := []([2]any){posted,
		{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m1}}},
		{linInput{Kind: linRelease, Claim: c1}, linOutput{}},
		{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c2, IDs: []herald.ID{m1}}},
		{linInput{Kind: linSettle, IDs: []herald.ID{m1}, Claim: c2}, linOutput{}},
	}
	settled := func(steps ...[2]any) []porcupine.Operation { return seq(append(slices.Clone(takeover), steps...)...) }
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(linModel, settled(
		[2]any{linInput{Kind: linSettle, IDs: []herald.ID{m1}, Claim: c1}, linOutput{Err: linGone}},
		[2]any{linInput{Kind: linSettle, IDs: []herald.ID{m1}, Claim: c2}, linOutput{Err: linGone}},
		[2]any{linInput{Kind: linCount}, linOutput{N: 1}},
	), time.Second))
	for name, bad := range map[string][]porcupine.Operation{
		"not FIFO": seq(posted,
			[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m2}}}),
		"stale delete": seq(posted,
			[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m1}}},
			[2]any{linInput{Kind: linRelease, Claim: c1}, linOutput{}},
			[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c2, IDs: []herald.ID{m1}}},
			[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}, Claim: c1}, linOutput{}}),
		"claimed past the max count": func() []porcupine.Operation {
			h := seq(posted,
				[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m1}}},
				[2]any{linInput{Kind: linRelease, Claim: c1}, linOutput{}},
				[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c2, IDs: []herald.ID{m1}}})
			require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(linModelMax(2), h, time.Second))
			return seq(posted,
				[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c1, IDs: []herald.ID{m1}}},
				[2]any{linInput{Kind: linRelease, Claim: c1}, linOutput{}},
				[2]any{linInput{Kind: linClaim, N: 1}, linOutput{Claim: c2, IDs: []herald.ID{m1}}})
		}(),
		"stale settle after the newer claimant settled": settled(
			[2]any{linInput{Kind: linSettle, IDs: []herald.ID{m1}, Claim: c1}, linOutput{}}),
		"stale delete after the newer claimant settled": settled(
			[2]any{linInput{Kind: linDelete, IDs: []herald.ID{m1}, Claim: c1}, linOutput{}}),
		"a retried settle succeeds again": settled(
			[2]any{linInput{Kind: linSettle, IDs: []herald.ID{m1}, Claim: c2}, linOutput{}}),
		"a second result": settled(
			[2]any{linInput{Kind: linCount}, linOutput{N: 2}}),
		"ids not increasing": seq(
			[2]any{linInput{Kind: linPost, N: 2}, linOutput{IDs: []herald.ID{m2, m1}}}),
	} {
		model := linModel
		if name == "claimed past the max count" {
			model = linModelMax(1)
		}
		require.Equal(t, porcupine.Illegal, porcupine.CheckOperationsTimeout(model, bad, time.Second), name)
	}
}

func TestLinearizabilityMemory(t *testing.T) {
	svc := newService(t)
	runLinearizability(t, svc, "lin3", 0, 300, 3, 12)
	runLinearizability(t, svc, "lin4", 0, 300, 4, 12)
	runLinearizability(t, svc, "lindl", 2, 200, 4, 12)
}

func TestLinearizabilityBolt(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "lin.db"), nil)
	require.NoError(t, err)
	svc, err := herald.New(herald.Options{Store: st})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	// Fewer histories: every write is an fsync'd commit (~0.5 ms).
	runLinearizability(t, svc, "lin", 0, 100, 4, 10)
	runLinearizability(t, svc, "lindl", 2, 50, 4, 10)
}
