package storetest

import (
	"strings"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var tenancyTests = []subtest{
	{"T1/ProjectsAreIsolated", testProjectsAreIsolated},
	{"T1/InvalidProjectRejected", testInvalidProjectRejected},
	{"T1/ValidProjectsAccepted", testValidProjectsAccepted},
}

// testProjectsAreIsolated uses one queue name in two projects and checks
// every read and write stays inside its project.
func testProjectsAreIsolated(f *fixture) {
	t := f.t
	a := store.QueueRef{Project: "alpha", Name: "q"}
	b := store.QueueRef{Project: "beta", Name: "q"}
	f.create(a, `{"owner":"alpha"}`)
	f.create(b, `{"owner":"beta"}`)
	aIDs := f.post(a, "a0", "a1")
	bIDs := f.post(b, "b0")

	requireMeta(t, `{"owner":"alpha"}`, f.queue(a).Metadata)
	requireMeta(t, `{"owner":"beta"}`, f.queue(b).Metadata)
	require.Equal(t, []string{"q"}, f.queueNames("alpha"))
	require.Equal(t, []string{"q"}, f.queueNames("beta"))
	require.Empty(t, f.queueNames(""), "the default project is a project too")
	require.EqualValues(t, 2, f.stats(a).Total)
	require.EqualValues(t, 1, f.stats(b).Total)
	require.Equal(t, bIDs, f.visible(b))
	require.Empty(t, f.get(b, aIDs...), "GetMessages across projects")
	require.Empty(t, f.get(a, bIDs...), "GetMessages across projects")

	bClaim := f.claim(b, 10)
	require.Equal(t, bIDs, ids(bClaim.Messages))
	f.requireNoClaim(a, bClaim.Claim.ID)
	f.release(a, bClaim.Claim.ID, 0) // a no-op: the claim is not a's
	require.ErrorIs(t, f.del(a, bClaim.Claim.ID, bIDs...), store.ErrMessageGone, "b's message is not in a, so b's claim cannot settle it there")
	require.NoError(t, f.del(a, store.ID{}, bIDs...), "b's message is missing from a, so skipped")
	f.counts(b, 0, 1, 0)
	f.counts(a, 2, 0, 0)

	require.Equal(t, aIDs[:1], ids(f.pop(a, 1)))
	require.NoError(t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: a, Now: f.now}))
	f.counts(b, 0, 1, 0)
	require.NoError(t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: a}))
	f.requireNoQueue(a)
	_, msgs := f.getClaim(b, bClaim.Claim.ID)
	require.Equal(t, bIDs, ids(msgs))
	requireMeta(t, `{"owner":"beta"}`, f.queue(b).Metadata)
}

// badProjects break T1 one way each.
var badProjects = map[string]string{
	"slash":        "a/b",
	"nul":          "a\x00b",
	"newline":      "a\nb",
	"del":          "\x7f",
	"c1 control":   "a\u0085b",
	"too long":     strings.Repeat("x", store.MaxProjectLen+1),
	"invalid utf8": "a\xffb",
}

func testInvalidProjectRejected(f *fixture) {
	for why, project := range badProjects {
		q := store.QueueRef{Project: project, Name: "q"}
		for _, c := range reaching(f.calls(f.sameArgs(q)), onQueue, onProject) {
			require.ErrorIs(f.t, c.fn(), store.ErrInvalidName, "%s with project %s %q", c.name, why, project)
		}
	}
	require.Empty(f.t, f.queueNames(""), "a rejected call created a queue")
}

func testValidProjectsAccepted(f *fixture) {
	for _, project := range []string{"", "p", "é-ü", "tenant with spaces", strings.Repeat("x", store.MaxProjectLen)} {
		q := store.QueueRef{Project: project, Name: "q"}
		f.post(q, "x")
		require.Equal(f.t, []string{"q"}, f.queueNames(project), "project %q", project)
	}
}
