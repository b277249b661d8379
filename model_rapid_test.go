package herald_test

// Model-based state-machine tests (RELIABILITY.md suite 2): rapid drives
// the public herald API over a memory or bolt store and the reference model
// of model_test.go side by side, and after every step compares every result
// and error kind and a full observation of every queue.
//
// Size. rapid reads its case count and steps from its -rapid.checks and
// -rapid.steps flags (defaults 100 and 30, or RAPID_CHECKS / RAPID_STEPS).
// rapid v1.3 has no per-Check options, so modelDefaults sets those flags in
// code, through the flag package, unless the command line or the
// environment set them, and restores them when the test ends:
// checks = base × HERALD_MODEL_SCALE (default 1), base 400 for memory and
// 100 for bolt, and steps = 30 (rapid's average of actions per case). So
// `go test -run TestModel` runs ≥ 100 cases × 30 steps per store,
// `HERALD_MODEL_SCALE=50 go test -run TestModel` runs 50 times as many,
// and an explicit `-rapid.checks=N` or `-rapid.seed` still wins. (-short divides the cases by 5, as rapid does for any test.)
// The flags are global: no test that uses rapid may run in parallel with
// these (none calls t.Parallel).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func TestModelMemory(t *testing.T) {
	modelDefaults(t, 400, 30) // memory is cheap: ~0.5 s for 400 cases
	defer logSteps(t, mbSteps.Load())
	rapid.Check(t, func(rt *rapid.T) {
		runModel(rt, func() (store.Store, error) { return memory.New(), nil }, nil)
	})
}

func TestModelBolt(t *testing.T) {
	modelDefaults(t, 100, 30)
	defer logSteps(t, mbSteps.Load())
	dir := t.TempDir()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("model-%d.db", n))
		rt.Cleanup(func() { _ = os.Remove(path) })
		open := func() (store.Store, error) { return bolt.Open(path, nil) }
		runModel(rt, open, open)
	})
}

func logSteps(t *testing.T, before int64) {
	mbEventsMu.Lock()
	defer mbEventsMu.Unlock()
	t.Logf("model: %d actions in all (shrinking included); outcomes %v", mbSteps.Load()-before, mbEvents)
	clear(mbEvents)
}

// modelDefaults sets rapid's case count and steps unless the command line
// or the environment did; see the file comment.
func modelDefaults(t *testing.T, checks, steps int) {
	t.Helper()
	scale := 1
	if s := os.Getenv("HERALD_MODEL_SCALE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("HERALD_MODEL_SCALE=%q: want a whole number ≥ 1", s)
		}
		scale = n
	}
	explicit := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for name, env := range map[string]string{"rapid.checks": "RAPID_CHECKS", "rapid.steps": "RAPID_STEPS"} {
		if explicit[name] {
			continue
		}
		if _, ok := os.LookupEnv(env); ok {
			continue
		}
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("rapid flag -%s is not registered", name)
		}
		v := steps
		if name == "rapid.checks" {
			v = checks * scale
		}
		old := f.Value.String()
		if err := f.Value.Set(strconv.Itoa(v)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Value.Set(old) })
	}
}

// The queues: two plus a dead-letter queue in the default project, one in a
// second project (T1), whose own dead-letter queue appears when used.
var (
	mbQ0   = refKey{"", "q0"}
	mbQ1   = refKey{"", "q1"}
	mbDLQ  = refKey{"", "dlq"}
	mbP2   = refKey{"p2", "q0"}
	mbP2D  = refKey{"p2", "dlq"}
	mbAll  = []refKey{mbQ0, mbQ1, mbDLQ, mbP2, mbP2D}
	mbUsed = []refKey{mbQ0, mbQ1, mbDLQ, mbP2}
)

// mbSteps counts the actions run, and mbEvents the interesting outcomes,
// for the test log: evidence that the machine reaches the rules it checks.
var (
	mbSteps    atomic.Int64
	mbEventsMu sync.Mutex
	mbEvents   = map[string]int{}
)

func mbEvent(name string) {
	mbEventsMu.Lock()
	mbEvents[name]++
	mbEventsMu.Unlock()
}

var mbStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mbClock is the Service's clock: the model's time, readable from the
// Service's goroutines.
type mbClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *mbClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *mbClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// mbHandle is a Claim handle and the model claim it stands for (nil for a
// claim that found nothing, or for a bogus ID).
type mbHandle struct {
	h   *herald.Claim
	c   *refClaim
	key refKey
	ttl time.Duration // the handle's TTL and Grace as herald keeps them
	gr  time.Duration
	tag string
}

// zeroErr is what a call through h gives when its ID is zero: a claim
// that found nothing holds nothing (ErrClaimNotFound), while ClaimByID of
// the zero ID is bad input (ErrInvalidID).
func (h *mbHandle) zeroErr() error {
	if h.tag == "bogus" {
		return herald.ErrInvalidID
	}
	return herald.ErrClaimNotFound
}

type mbMachine struct {
	m         *refModel
	clock     *mbClock
	svc       *herald.Service
	reopen    func() (store.Store, error)
	handles   []*mbHandle
	msgIDs    []herald.ID          // every message ID seen, in order
	seen      map[herald.ID]string // every ID seen: message or claim
	lastID    map[refKey]herald.ID // the newest ID each queue had (M2)
	bodyN     int
	haveEmpty bool
	ctx       context.Context
}

func runModel(t *rapid.T, open, reopen func() (store.Store, error)) {
	st, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	mb := &mbMachine{
		m:      newRefModel(mbStart),
		clock:  &mbClock{now: mbStart},
		reopen: reopen,
		seen:   map[herald.ID]string{},
		lastID: map[refKey]herald.ID{},
		ctx:    context.Background(),
	}
	mb.svc = mb.newService(t, st)
	defer func() {
		if err := mb.svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if rapid.Bool().Draw(t, "startDLQ") { // dead-letter q0 to dlq from the start (C6)
		mb.m.create(mbQ0)
		r := refMeta{maxClaims: 1, dlq: mbDLQ.name}
		if _, err := mb.q(mbQ0, "").Create(mb.ctx, r.metadata()); err != nil {
			t.Fatalf("Create: %v", err)
		}
		_ = mb.m.setMetadata(mbQ0, r)
	}
	// rapid draws an action by its index in the sorted names, favouring
	// small indices (early names) much as it favours small numbers; an
	// action listed with weight w gets w names. The weights were tuned by
	// the action counts logged at the end of the test.
	weighted := []struct {
		name string
		w    int
		fn   func(*rapid.T)
	}{
		{"Post", 12, mb.post},
		{"List", 1, mb.list},
		{"Get", 1, mb.get},
		{"GetMany", 1, mb.getMany},
		{"Claim", 1, mb.claim},
		{"Renew", 2, mb.renew},
		{"Release", 2, mb.release},
		{"Redeliver", 2, mb.redeliver},
		{"ClaimDelete", 1, mb.claimDelete},
		{"DeleteAndClaim", 1, mb.deleteAndClaim},
		{"Delete", 1, mb.delete},
		{"Takeover", 2, mb.takeover},
		{"Pop", 1, mb.pop},
		{"SetMetadata", 2, mb.setMetadata},
		{"Create", 1, mb.create},
		{"PurgeOrDrop", 1, mb.purgeOrDrop},
		{"Time", 4, mb.advance},
		{"Sweep", 1, mb.sweep},
	}
	if reopen != nil {
		weighted = append(weighted, struct {
			name string
			w    int
			fn   func(*rapid.T)
		}{"Reopen", 1, mb.doReopen})
	}
	actions := map[string]func(*rapid.T){"": mb.check}
	for _, a := range weighted {
		for i := range a.w {
			name := a.name
			if i > 0 {
				name = fmt.Sprintf("%s#%d", a.name, i+1)
			}
			actions[name] = func(t *rapid.T) { mbSteps.Add(1); mbEvent("do " + a.name); a.fn(t) }
		}
	}
	t.Repeat(actions)
}

func (mb *mbMachine) newService(t *rapid.T, st store.Store) *herald.Service {
	svc, err := herald.New(herald.Options{Store: st, Now: mb.clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return svc
}

func (mb *mbMachine) q(k refKey, client string) *herald.Queue {
	q := mb.svc.Project(k.project).Queue(k.name)
	if client != "" {
		q = q.WithClientID(client)
	}
	return q
}

// errKind fails unless got matches want (nil: no error) under errors.Is.
func errKind(t *rapid.T, what string, got, want error) bool {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Fatalf("%s: error %v, model says none", what, got)
	case want != nil && !errors.Is(got, want),
		// ErrMessageGone is a child of ErrNotClaimed: exact both ways.
		errors.Is(got, herald.ErrMessageGone) != errors.Is(want, herald.ErrMessageGone):
		t.Fatalf("%s: error %v, model says %v", what, got, want)
	}
	if want != nil {
		mbEvent(strings.Fields(what)[0] + " " + strings.TrimPrefix(want.Error(), "herald: "))
	}
	return got == nil
}

// sameMsg compares a store message with the model's, as of now.
func (mb *mbMachine) sameMsg(t *rapid.T, what string, want *refMsg, got herald.Message) {
	t.Helper()
	m := mb.m
	if got.ID != want.id {
		t.Fatalf("%s: id %s, model %s (%q)", what, got.ID, want.id, want.body)
	}
	if string(got.Body) != want.body || got.ClientID != want.client {
		t.Fatalf("%s %s: body %q client %q, model %q %q", what, got.ID, got.Body, got.ClientID, want.body, want.client)
	}
	if !got.Created.Equal(want.created) || !got.Expires.Equal(want.expires) || !got.VisibleAt.Equal(want.visibleAt) {
		t.Fatalf("%s %s (%q): created/expires/visibleAt %v / %v / %v, model %v / %v / %v", what, got.ID, want.body,
			got.Created, got.Expires, got.VisibleAt, want.created, want.expires, want.visibleAt)
	}
	if got.ClaimCount != want.count {
		t.Fatalf("%s %s (%q): claim count %d, model %d", what, got.ID, want.body, got.ClaimCount, want.count)
	}
	if c := m.claimOf(want); c == nil {
		if !got.ClaimID.IsZero() {
			t.Fatalf("%s %s (%q): under claim %s, model says no live claim", what, got.ID, want.body, got.ClaimID)
		}
	} else if got.ClaimID != c.id || !got.ClaimExpires.Equal(c.expires) {
		t.Fatalf("%s %s (%q): claim %s until %v, model %s until %v", what, got.ID, want.body, got.ClaimID, got.ClaimExpires, c.id, c.expires)
	}
}

func (mb *mbMachine) sameMsgs(t *rapid.T, what string, want []*refMsg, got []herald.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages %v, model %d %v", what, len(got), gotBodies(got), len(want), refBodies(want))
	}
	for i := range want {
		mb.sameMsg(t, fmt.Sprintf("%s[%d]", what, i), want[i], got[i])
	}
}

func gotBodies(ms []herald.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

func refBodies(ms []*refMsg) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.body
	}
	return out
}

// learn records a new ID: never seen before (M2, C3), and for a message
// after every earlier ID of its queue (M2).
func (mb *mbMachine) learn(t *rapid.T, k refKey, id herald.ID, what string) {
	t.Helper()
	if id.IsZero() {
		t.Fatalf("%s: zero ID", what)
	}
	if prev, ok := mb.seen[id]; ok {
		t.Fatalf("%s: ID %s reused (was %s)", what, id, prev)
	}
	mb.seen[id] = what
	if what == "claim" {
		return
	}
	if last := mb.lastID[k]; id.Compare(last) <= 0 {
		t.Fatalf("%s %s: ID %s not after the queue's last %s (M2)", k, what, id, last)
	}
	mb.lastID[k] = id
	mb.msgIDs = append(mb.msgIDs, id)
}

// --- generators ---

var (
	genKey    = rapid.SampledFrom(mbUsed)
	genClient = rapid.SampledFrom([]string{"", "", "a", "b"})
	genTTL    = rapid.SampledFrom([]time.Duration{0, 0, time.Second, 2 * time.Second, 61 * time.Second, 5 * time.Minute})
	genDelay  = rapid.SampledFrom([]time.Duration{0, 0, 0, time.Second, 30 * time.Second})
	genDedup  = rapid.SampledFrom([]string{"", "", "x", "y"})
)

// pickID draws an ID of a message stored in queue k, a known message ID
// (of any queue, maybe gone), or a random one.
func (mb *mbMachine) pickID(t *rapid.T, k refKey, label string) herald.ID {
	kind := rapid.IntRange(0, 5).Draw(t, label+"Kind")
	if stored := mb.m.stored(k); kind >= 3 && len(stored) > 0 {
		return stored[rapid.IntRange(0, len(stored)-1).Draw(t, label)].id
	}
	if len(mb.msgIDs) > 0 && kind > 0 {
		return mb.msgIDs[rapid.IntRange(0, len(mb.msgIDs)-1).Draw(t, label)]
	}
	var id herald.ID
	for i, v := range []uint64{rapid.Uint64().Draw(t, label+"Hi"), rapid.Uint64().Draw(t, label+"Lo")} {
		for j := range 8 {
			id[i*8+j] = byte(v >> (56 - 8*j))
		}
	}
	return id
}

func (mb *mbMachine) pickIDs(t *rapid.T, k refKey, label string) []herald.ID {
	n := rapid.IntRange(1, 3).Draw(t, label+"N")
	ids := make([]herald.ID, n)
	for i := range ids {
		ids[i] = mb.pickID(t, k, fmt.Sprintf("%s%d", label, i))
	}
	return ids
}

// --- actions ---

func (mb *mbMachine) post(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	client := genClient.Draw(t, "client")
	n := rapid.IntRange(1, 3).Draw(t, "n")
	ds := make([]refDraft, n)
	drafts := make([]herald.Draft, n)
	bad := rapid.IntRange(0, 99).Draw(t, "bad") // 40–59: out of range (M4, M5)
	for i := range ds {
		mb.bodyN++
		ds[i] = refDraft{
			body:  fmt.Sprintf("m%d", mb.bodyN),
			ttl:   genTTL.Draw(t, "ttl"),
			delay: genDelay.Draw(t, "delay"),
			dedup: genDedup.Draw(t, "dedup"),
		}
		switch {
		case i != n-1:
		case bad >= 40 && bad < 47:
			ds[i].ttl = 500 * time.Millisecond
		case bad >= 47 && bad < 53:
			ds[i].ttl = 15 * 24 * time.Hour
		case bad >= 53 && bad < 60:
			ds[i].delay = 16 * time.Minute
		}
		drafts[i] = herald.Draft{Body: []byte(ds[i].body), TTL: ds[i].ttl, Delay: ds[i].delay, DedupID: ds[i].dedup}
	}
	slots, werr := mb.m.post(k, ds)
	ids, err := mb.q(k, client).Post(mb.ctx, drafts...)
	if !errKind(t, "Post", err, werr) {
		return
	}
	if len(ids) != n {
		t.Fatalf("Post: %d IDs for %d drafts", len(ids), n)
	}
	for i, s := range slots {
		switch {
		case s.fresh:
			mb.learn(t, k, ids[i], "message")
		case s.same >= 0:
			mbEvent("dedup in batch")
			if ids[i] != ids[s.same] {
				t.Fatalf("Post: draft %d has ID %s, want draft %d's %s (M10)", i, ids[i], s.same, ids[s.same])
			}
		case s.same < 0:
			mbEvent("dedup hit")
			if ids[i] != s.id {
				t.Fatalf("Post: draft %d has ID %s, want the first post's %s (M10)", i, ids[i], s.id)
			}
		}
	}
	mb.m.commitPost(k, client, ds, slots, ids)
}

func (mb *mbMachine) list(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	o := refListOpts{
		limit:   rapid.SampledFrom([]int{0, 1, 2, 5}).Draw(t, "limit"),
		claimed: rapid.Bool().Draw(t, "claimed"),
		delayed: rapid.Bool().Draw(t, "delayed"),
		echo:    rapid.Bool().Draw(t, "echo"),
		client:  genClient.Draw(t, "client"),
	}
	if rapid.Bool().Draw(t, "withMarker") {
		o.marker = mb.pickID(t, k, "marker")
	}
	want, werr := mb.m.list(k, o)
	got, err := mb.q(k, o.client).List(mb.ctx, herald.ListOptions{
		Marker: o.marker, Limit: o.limit, IncludeClaimed: o.claimed, IncludeDelayed: o.delayed, Echo: o.echo,
	})
	if errKind(t, "List", err, werr) {
		mb.sameMsgs(t, "List", want, got)
	}
}

func (mb *mbMachine) get(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	id := mb.pickID(t, k, "id")
	var werr error
	want := mb.m.find(k, id)
	switch {
	case id.IsZero():
		werr = herald.ErrInvalidID
	case want == nil:
		werr = herald.ErrNotFound
	}
	got, err := mb.q(k, "").Get(mb.ctx, id)
	if errKind(t, "Get", err, werr) {
		mb.sameMsg(t, "Get", want, got)
	}
}

func (mb *mbMachine) getMany(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	ids := mb.pickIDs(t, k, "id")
	want, werr := mb.m.get(k, ids)
	got, err := mb.q(k, "").GetMany(mb.ctx, ids...)
	if errKind(t, "GetMany", err, werr) {
		mb.sameMsgs(t, "GetMany", want, got)
	}
}

func (mb *mbMachine) claim(t *rapid.T) { mb.doClaim(t) }

// redeliver is a consumer that fails: claim, then release at once or with
// a backoff (C5), so messages come round again and reach their
// _max_claim_count (C6).
func (mb *mbMachine) redeliver(t *rapid.T) {
	h := mb.doClaim(t)
	if h == nil || h.c == nil {
		return
	}
	delay := rapid.SampledFrom([]time.Duration{0, time.Second}).Draw(t, "delay")
	errKind(t, "Release", h.h.Release(mb.ctx, delay), mb.m.release(h.c, delay))
	if delay == 0 {
		mb.claimOn(t, h.key) // the retry
	}
}

// doClaim claims and returns the new handle, nil if the claim failed.
func (mb *mbMachine) doClaim(t *rapid.T) *mbHandle { return mb.claimOn(t, genKey.Draw(t, "queue")) }

func (mb *mbMachine) claimOn(t *rapid.T, k refKey) *mbHandle {
	o := herald.ClaimOptions{
		TTL:   rapid.SampledFrom([]time.Duration{0, time.Second, 2 * time.Second, 30 * time.Second, 500 * time.Millisecond}).Draw(t, "ttl"),
		Grace: rapid.SampledFrom([]time.Duration{0, time.Nanosecond, time.Second, 10 * time.Second}).Draw(t, "grace"),
		Limit: rapid.IntRange(0, 3).Draw(t, "limit"),
	}
	c, taken, moved, dlq, werr := mb.m.claim(k, o.TTL, o.Grace, o.Limit)
	got, err := mb.q(k, "").Claim(mb.ctx, o)
	return mb.claimed(t, "Claim", k, got, err, c, taken, moved, dlq, werr)
}

// claimed checks a claim's answer against the model's and keeps its
// handle; it returns nil if the claim failed.
func (mb *mbMachine) claimed(t *rapid.T, what string, k refKey, got *herald.Claim, err error,
	c *refClaim, taken []*refMsg, moved int, dlq refKey, werr error) *mbHandle {
	if !errKind(t, what, err, werr) {
		return nil
	}
	if moved > 0 {
		mbEvent("dead-lettered")
		mb.learnMoved(t, dlq)
	}
	h := &mbHandle{h: got, key: k, ttl: got.TTL, gr: got.Grace, tag: "claim"}
	if c == nil {
		if !got.ID.IsZero() || len(got.Messages) != 0 {
			t.Fatalf("%s: got claim %s with %v, model claims nothing", what, got.ID, gotBodies(got.Messages))
		}
		h.tag = "empty claim"
		if !mb.haveEmpty { // one is enough, and it would crowd out live ones
			mb.haveEmpty = true
			mb.handles = append(mb.handles, h)
		}
		return h
	}
	mbEvent(fmt.Sprintf("claim of %d", len(taken)))
	mb.learn(t, k, got.ID, "claim")
	c.id = got.ID
	h.c = c
	if got.TTL != c.ttl || got.Grace != c.grace || !got.Expires.Equal(c.expires) {
		t.Fatalf("%s: ttl %v grace %v expires %v, model %v %v %v", what, got.TTL, got.Grace, got.Expires, c.ttl, c.grace, c.expires)
	}
	mb.handles = append(mb.handles, h)
	mb.sameMsgs(t, what, taken, got.Messages)
	return h
}

// learnMoved learns the IDs of messages a claim just moved to dlq (C6):
// they are the dead-letter queue's IDs the model does not know, in order.
func (mb *mbMachine) learnMoved(t *rapid.T, dlq refKey) {
	got, err := mb.q(dlq, "").List(mb.ctx, herald.ListOptions{Limit: 1000, IncludeClaimed: true, IncludeDelayed: true})
	if err != nil {
		t.Fatalf("List %s: %v", dlq, err)
	}
	var fresh []herald.ID
	for _, g := range got {
		if _, ok := mb.seen[g.ID]; !ok {
			fresh = append(fresh, g.ID)
		}
	}
	var unknown []*refMsg
	for _, msg := range mb.m.queue(dlq).msgs {
		if msg.id.IsZero() {
			unknown = append(unknown, msg)
		}
	}
	if len(fresh) != len(unknown) {
		t.Fatalf("dead-letter queue %s: %d new IDs, model moved %d (C6)", dlq, len(fresh), len(unknown))
	}
	for i, msg := range unknown {
		mb.learn(t, dlq, fresh[i], "message")
		msg.id = fresh[i]
	}
}

// pickHandle draws a claim handle: one made by Claim (live, expired,
// released, superseded or empty), or a ClaimByID with a bogus ID.
func (mb *mbMachine) pickHandle(t *rapid.T) *mbHandle {
	if len(mb.handles) > 0 && rapid.IntRange(0, 6).Draw(t, "handleKind") > 0 {
		// Counted from the newest: rapid favours small numbers, and the
		// newest handles are the likeliest to be live.
		return mb.handles[len(mb.handles)-1-rapid.IntRange(0, len(mb.handles)-1).Draw(t, "handleAge")]
	}
	k := genKey.Draw(t, "bogusQueue")
	id := mb.pickID(t, k, "bogusID")
	h := mb.q(k, "").ClaimByID(id)
	// A claim that was never made: the model sees a claim that is not live.
	return &mbHandle{h: h, c: &refClaim{id: id, queue: k, ended: true}, key: k, gr: h.Grace, tag: "bogus"}
}

func (mb *mbMachine) renew(t *rapid.T) {
	h := mb.pickHandle(t)
	ttl := rapid.SampledFrom([]time.Duration{0, time.Second, 5 * time.Second, 2 * time.Minute, 500 * time.Millisecond}).Draw(t, "ttl")
	var werr error
	eff := ttl
	if eff == 0 {
		eff = h.ttl
	}
	switch {
	case h.h.ID.IsZero():
		werr = h.zeroErr()
	default:
		werr = mb.m.renew(h.c, eff, h.gr)
	}
	err := h.h.Renew(mb.ctx, ttl)
	if errKind(t, "Renew "+h.tag, err, werr) {
		h.ttl = eff
		if !h.h.Expires.Equal(h.c.expires) || h.h.TTL != eff {
			t.Fatalf("Renew: handle ttl %v expires %v, model %v %v", h.h.TTL, h.h.Expires, eff, h.c.expires)
		}
	}
}

func (mb *mbMachine) release(t *rapid.T) {
	h := mb.pickHandle(t)
	delay := rapid.SampledFrom([]time.Duration{0, 0, time.Second, 20 * time.Second, 16 * time.Minute}).Draw(t, "delay")
	var werr error
	switch {
	case h.h.ID.IsZero() && h.tag == "bogus":
		werr = herald.ErrInvalidID
	case !h.h.ID.IsZero():
		werr = mb.m.release(h.c, delay)
	}
	errKind(t, "Release "+h.tag, h.h.Release(mb.ctx, delay), werr)
}

func (mb *mbMachine) claimDelete(t *rapid.T) {
	h := mb.pickHandle(t)
	ids := mb.deleteIDs(t, h)
	var werr error
	if h.h.ID.IsZero() {
		werr = h.zeroErr()
	} else {
		werr = mb.m.del(h.key, ids, h.h.ID)
	}
	errKind(t, "Claim.Delete "+h.tag, h.h.Delete(mb.ctx, ids...), werr)
}

// deleteAndClaim deletes through a handle and claims the next batch of its
// queue in one call: the delete must fail whole or the claim happen too.
func (mb *mbMachine) deleteAndClaim(t *rapid.T) {
	h := mb.pickHandle(t)
	ids := mb.deleteIDs(t, h)
	o := herald.ClaimOptions{
		TTL:   rapid.SampledFrom([]time.Duration{0, time.Second, 30 * time.Second}).Draw(t, "ttl"),
		Grace: rapid.SampledFrom([]time.Duration{0, time.Second}).Draw(t, "grace"),
		Limit: rapid.IntRange(1, 3).Draw(t, "limit"),
	}
	var c *refClaim
	var taken []*refMsg
	var moved int
	var dlq refKey
	var werr error
	if h.h.ID.IsZero() {
		werr = h.zeroErr()
	} else if werr = mb.m.del(h.key, ids, h.h.ID); werr == nil {
		c, taken, moved, dlq, werr = mb.m.claim(h.key, o.TTL, o.Grace, o.Limit)
	}
	got, err := h.h.DeleteAndClaim(mb.ctx, o, ids...)
	mb.claimed(t, "DeleteAndClaim "+h.tag, h.key, got, err, c, taken, moved, dlq, werr)
}

// deleteIDs draws ids to delete through h: some of those it holds, some of
// those it was granted (held, taken over, or gone: a stale settle), or
// any.
func (mb *mbMachine) deleteIDs(t *rapid.T, h *mbHandle) []herald.ID {
	var ids []herald.ID
	switch kind := rapid.IntRange(0, 2).Draw(t, "ownIDs"); {
	case h.c == nil || kind == 0:
	case kind == 1:
		for _, msg := range mb.m.stored(h.key) {
			if msg.claim == h.c {
				ids = append(ids, msg.id)
			}
		}
	default:
		for _, msg := range h.h.Messages {
			ids = append(ids, msg.ID)
		}
	}
	if len(ids) > 1 {
		ids = ids[:rapid.IntRange(1, len(ids)).Draw(t, "ownN")]
	}
	if len(ids) == 0 {
		ids = mb.pickIDs(t, h.key, "id")
	}
	return ids
}

// takeover is issue 14's case: a claim's lease ends (expiry or release), a
// newer claimant takes the message and settles it, then the stale claimant
// settles the same messages. Each settle is a Tx that deletes under the
// claim and posts a result, or a Claim.Delete. The stale settle must fail
// whole (C3): no second result.
func (mb *mbMachine) takeover(t *rapid.T) {
	var stale []*mbHandle
	for _, h := range mb.handles {
		if h.c != nil {
			stale = append(stale, h)
		}
	}
	if len(stale) == 0 {
		return
	}
	a := stale[len(stale)-1-rapid.IntRange(0, len(stale)-1).Draw(t, "takeoverAge")]
	if mb.m.live(a.c) {
		if rapid.Bool().Draw(t, "byRelease") {
			errKind(t, "Release", a.h.Release(mb.ctx, 0), mb.m.release(a.c, 0))
		} else {
			mb.m.now = a.c.expires
			mb.clock.set(mb.m.now)
		}
	}
	b := mb.claimOn(t, a.key)
	newer := b != nil && b.c != nil && mb.settle(t, "newer", b, idsOf(b.h.Messages))
	if !mb.settle(t, "stale", a, idsOf(a.h.Messages)) && newer && mb.m.find(a.key, a.h.Messages[0].ID) == nil {
		mbEvent("Takeover: stale settle refused after the newer claimant settled")
	}
}

// settle deletes ids under h's claim, in a Tx that also posts a result to
// a drawn queue or through Claim.Delete, and checks both against the
// model: a failed settle posts nothing. It reports whether it settled.
func (mb *mbMachine) settle(t *rapid.T, who string, h *mbHandle, ids []herald.ID) bool {
	if len(ids) > refLimits.MaxMessagesPerCall {
		ids = ids[:refLimits.MaxMessagesPerCall]
	}
	if !rapid.Bool().Draw(t, "settleTx") {
		werr := mb.m.del(h.key, ids, h.h.ID)
		return errKind(t, "Claim.Delete "+who, h.h.Delete(mb.ctx, ids...), werr)
	}
	out := genKey.Draw(t, "resultQueue")
	mb.bodyN++
	ds := []refDraft{{body: fmt.Sprintf("r%d", mb.bodyN)}}
	var slots []refPostSlot
	werr := mb.m.del(h.key, ids, h.h.ID)
	if werr == nil {
		slots, werr = mb.m.post(out, ds)
	}
	got, err := mb.svc.Tx(mb.ctx, func(tx *herald.Tx) error {
		tx.DeleteClaimed(h.h, ids...)
		tx.Post(mb.q(out, ""), herald.Draft{Body: []byte(ds[0].body)})
		return nil
	})
	if !errKind(t, "Tx "+who, err, werr) {
		return false
	}
	if len(got) != 1 || len(got[0]) != 1 {
		t.Fatalf("Tx %s: IDs %v, want one post of one", who, got)
	}
	mbEvent("Tx " + who + " settled")
	mb.learn(t, out, got[0][0], "message")
	mb.m.commitPost(out, "", ds, slots, got[0])
	return true
}

func (mb *mbMachine) delete(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	ids := mb.pickIDs(t, k, "id")
	werr := mb.m.del(k, ids, herald.ID{})
	errKind(t, "Queue.Delete", mb.q(k, "").Delete(mb.ctx, ids...), werr)
}

func (mb *mbMachine) pop(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	n := rapid.IntRange(1, 3).Draw(t, "n")
	// Compare before the model deletes them (their state as popped).
	var want []*refMsg
	for _, msg := range mb.m.stored(k) {
		if len(want) < n && mb.m.free(msg) {
			want = append(want, msg)
		}
	}
	got, err := mb.q(k, "").Pop(mb.ctx, n)
	if errKind(t, "Pop", err, nil) {
		mb.sameMsgs(t, "Pop", want, got)
	}
	if _, err := mb.m.pop(k, n); err != nil {
		t.Fatalf("model pop: %v", err)
	}
}

func (mb *mbMachine) setMetadata(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	r := refMeta{
		maxClaims: rapid.SampledFrom([]int{1, 2, 0}).Draw(t, "maxClaims"),
		dlq:       rapid.SampledFrom([]string{"dlq", "", "q0"}).Draw(t, "dlq"),
		dlqTTL:    rapid.SampledFrom([]time.Duration{0, time.Second, 2 * time.Minute}).Draw(t, "dlqTTL"),
	}
	werr := mb.m.setMetadata(k, r)
	errKind(t, "SetMetadata", mb.q(k, "").SetMetadata(mb.ctx, r.metadata()), werr)
}

func (mb *mbMachine) create(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	_, want := mb.m.create(k)
	got, err := mb.q(k, "").Create(mb.ctx, nil)
	if errKind(t, "Create", err, nil) && got != want {
		t.Fatalf("Create %s: created %v, model %v (Q2)", k, got, want)
	}
}

func (mb *mbMachine) purgeOrDrop(t *rapid.T) {
	k := genKey.Draw(t, "queue")
	if rapid.Bool().Draw(t, "drop") {
		mb.m.deleteQueue(k)
		errKind(t, "DeleteQueue", mb.q(k, "").DeleteQueue(mb.ctx), nil)
		return
	}
	mb.m.purge(k)
	errKind(t, "Purge", mb.q(k, "").Purge(mb.ctx), nil)
}

func (mb *mbMachine) advance(t *rapid.T) {
	var d time.Duration
	switch rapid.IntRange(0, 3).Draw(t, "advanceKind") {
	case 0:
		d = rapid.SampledFrom([]time.Duration{time.Millisecond, 500 * time.Millisecond, time.Second, 10 * time.Second, 59 * time.Second}).Draw(t, "step")
	case 3:
		d = rapid.SampledFrom([]time.Duration{15 * time.Minute, time.Hour, 25 * time.Hour}).Draw(t, "jump")
	default: // a deadline of the model, at -1ns, 0 or +1ns (RELIABILITY 7)
		dl := mb.m.deadlines()
		if len(dl) == 0 {
			d = time.Second
			break
		}
		slices.SortFunc(dl, func(a, b time.Time) int { return a.Compare(b) })
		dl = slices.CompactFunc(dl, time.Time.Equal)
		at := dl[rapid.IntRange(0, len(dl)-1).Draw(t, "deadline")]
		at = at.Add(time.Duration(rapid.IntRange(-1, 1).Draw(t, "edge")))
		d = at.Sub(mb.m.now)
	}
	if d <= 0 {
		return
	}
	mbEvent("advance")
	mb.m.now = mb.m.now.Add(d)
	mb.clock.set(mb.m.now)
}

// sweep removes what expired (B1); nothing visible may change (B4), and a
// second sweep at the same instant finds nothing.
func (mb *mbMachine) sweep(t *rapid.T) {
	if _, err := mb.svc.Sweep(mb.ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	r, err := mb.svc.Sweep(mb.ctx)
	if err != nil || r != (store.SweepResult{}) {
		t.Fatalf("second Sweep at the same instant: %+v, %v; want nothing", r, err)
	}
}

// doReopen closes the Service and its bolt file and opens both again (C8,
// D1): the model does not change.
func (mb *mbMachine) doReopen(t *rapid.T) {
	if err := mb.svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st, err := mb.reopen()
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	mb.svc = mb.newService(t, st)
	for _, h := range mb.handles {
		nh := mb.q(h.key, "").ClaimByID(h.h.ID)
		nh.TTL, nh.Grace, nh.Expires, nh.Messages = h.h.TTL, h.h.Grace, h.h.Expires, h.h.Messages
		h.h = nh
		if nh.ID.IsZero() {
			h.tag = "bogus" // an empty claim is now ClaimByID of the zero ID: bad input
		}
	}
}

// check is the full observation after every step: per queue, Stats (Q5)
// and the whole listing with every message (M6), and every claim handle
// against GetClaim (C4).
func (mb *mbMachine) check(t *rapid.T) {
	m := mb.m
	for _, k := range mbAll {
		ws, werr := m.stats(k)
		gs, err := mb.q(k, "").Stats(mb.ctx)
		if errKind(t, "Stats "+k.String(), err, werr) {
			if gs.Free != ws.free || gs.Claimed != ws.claimed || gs.Delayed != ws.delayed || gs.Total != ws.total {
				t.Fatalf("Stats %s: free/claimed/delayed/total %d/%d/%d/%d, model %d/%d/%d/%d (Q5)", k,
					gs.Free, gs.Claimed, gs.Delayed, gs.Total, ws.free, ws.claimed, ws.delayed, ws.total)
			}
			sameRef(t, "Stats "+k.String()+" oldest", ws.oldest, gs.Oldest)
			sameRef(t, "Stats "+k.String()+" newest", ws.newest, gs.Newest)
		}
		want := m.stored(k)
		got, err := mb.q(k, "a").List(mb.ctx, herald.ListOptions{Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Echo: true})
		if errKind(t, "List all "+k.String(), err, nil) {
			mb.sameMsgs(t, "List all "+k.String(), want, got)
		}
		// Paging by marker neither skips nor repeats (M6).
		var paged []herald.Message
		for marker := (herald.ID{}); ; {
			page, err := mb.q(k, "").List(mb.ctx, herald.ListOptions{Marker: marker, Limit: 2, IncludeClaimed: true, IncludeDelayed: true})
			if err != nil {
				t.Fatalf("List page %s: %v", k, err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			marker = page[len(page)-1].ID
		}
		mb.sameMsgs(t, "List by pages "+k.String(), want, paged)
	}
	for i, h := range mb.handles {
		if h.h.ID.IsZero() {
			continue
		}
		got, err := mb.q(h.key, "").GetClaim(mb.ctx, h.h.ID)
		if !m.live(h.c) {
			errKind(t, fmt.Sprintf("GetClaim handle %d", i), err, herald.ErrClaimNotFound)
			continue
		}
		if !errKind(t, fmt.Sprintf("GetClaim handle %d", i), err, nil) {
			continue
		}
		if !got.Expires.Equal(h.c.expires) || got.TTL != h.c.ttl || got.Grace != h.c.grace {
			t.Fatalf("GetClaim %s: ttl %v grace %v expires %v, model %v %v %v", h.h.ID, got.TTL, got.Grace, got.Expires, h.c.ttl, h.c.grace, h.c.expires)
		}
		var held []*refMsg
		for _, msg := range m.stored(h.key) {
			if msg.claim == h.c {
				held = append(held, msg)
			}
		}
		mb.sameMsgs(t, "GetClaim "+h.h.ID.String(), held, got.Messages)
	}
}

func sameRef(t *rapid.T, what string, want *refMsg, got *store.MessageRef) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Fatalf("%s: %s, model none", what, got.ID)
	case want != nil && got == nil:
		t.Fatalf("%s: none, model %s (%q)", what, want.id, want.body)
	case want != nil && (got.ID != want.id || !got.Created.Equal(want.created)):
		t.Fatalf("%s: %s created %v, model %s created %v", what, got.ID, got.Created, want.id, want.created)
	}
}
