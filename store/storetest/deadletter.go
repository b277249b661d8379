package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var deadLetterTests = []subtest{
	{"C6/ClaimCountIncrements", testClaimCountIncrements},
	{"C6/DeadLetterAtMaxClaimCount", testDeadLetterAtMaxClaimCount},
	{"C6/DeadLetterTTL", testDeadLetterTTL},
	{"C6/OneKeyAloneNeverMoves", testOneKeyAloneNeverMoves},
	{"C6/ClaimKeepsFillingLimit", testClaimKeepsFillingLimit},
}

// dlqMeta turns dead-lettering on after two claims.
const dlqMeta = `{"_max_claim_count":2,"_dead_letter_queue":"dlq"}`

func testClaimCountIncrements(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a")
	for n := 1; n <= 4; n++ {
		c := f.claim(q, 1)
		require.Equal(f.t, posted, ids(c.Messages))
		require.Equal(f.t, n, c.Messages[0].ClaimCount, "claim %d", n)
		require.Equal(f.t, n, f.getOne(q, posted[0]).ClaimCount, "stored count after claim %d", n)
		f.release(q, c.Claim.ID, 0)
	}
}

// testDeadLetterAtMaxClaimCount follows zaqar-v2.md §5.6 with herald's
// differences (DESIGN.md C6): the dead-letter queue is created if missing,
// and the moved message arrives unclaimed and visible.
func testDeadLetterAtMaxClaimCount(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	f.create(q, dlqMeta)
	posted := f.post(q, "body")

	first := f.claim(q, 1)
	require.Equal(f.t, posted, ids(first.Messages))
	f.release(q, first.Claim.ID, 0)
	second := f.claim(q, 1)
	require.Equal(f.t, posted, ids(second.Messages))
	require.Equal(f.t, 2, second.Messages[0].ClaimCount)
	f.now = second.Claim.Expires // the second claim lapses instead
	f.requireNoQueue(dlq)

	third := f.claim(q, 1)
	require.Empty(f.t, third.Messages, "a dead-lettered message is not delivered")
	require.True(f.t, third.Claim.ID.IsZero(), "no claim when nothing was claimed")
	require.Equal(f.t, 1, third.DeadLettered)
	require.Equal(f.t, "dlq", third.DeadLetterQueue)
	require.Equal(f.t, store.Stats{}, f.stats(q))
	require.Empty(f.t, f.get(q, posted...))

	requireMeta(f.t, `{}`, f.queue(dlq).Metadata)
	f.requireNoQueue(store.QueueRef{Project: "", Name: "dlq"}) // same project only
	f.counts(dlq, 1, 0, 0)
	moved := f.visible(dlq)
	require.Len(f.t, moved, 1)
	require.NotEqual(f.t, posted[0], moved[0], "the message gets a new ID in the dead-letter queue")
	m := f.getOne(dlq, moved[0])
	require.Equal(f.t, "body", string(m.Body))
	require.Equal(f.t, store.Checksum([]byte("body")), m.Checksum)
	require.True(f.t, m.ClaimID.IsZero(), "a moved message is unclaimed")
	require.False(f.t, m.VisibleAt.After(f.now), "a moved message is visible")

	c := f.claim(dlq, 10)
	require.Equal(f.t, moved, ids(c.Messages))
	require.Equal(f.t, "body", string(c.Messages[0].Body))
}

func testDeadLetterTTL(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	f.create(dlq, `{"keep":1}`)
	earlier := f.post(dlq, "already here")
	f.create(q, `{"_max_claim_count":1,"_dead_letter_queue":"dlq","_dead_letter_queue_messages_ttl":600}`)
	f.post(q, "body")
	f.release(q, f.claim(q, 1).Claim.ID, 0)
	f.advance(time.Minute)

	require.Equal(f.t, 1, f.claim(q, 1).DeadLettered)
	all := f.all(dlq)
	require.Len(f.t, all, 2)
	require.Equal(f.t, earlier[0], all[0].ID, "the moved message sorts after what the queue held")
	requireTime(f.t, f.now.Add(600*time.Second), all[1].Expires, "dead-letter TTL counts from the move")
	requireMeta(f.t, `{"keep":1}`, f.queue(dlq).Metadata)
}

func testOneKeyAloneNeverMoves(f *fixture) {
	for name, meta := range map[string]string{
		"countonly": `{"_max_claim_count":1}`,
		"dlqonly":   `{"_dead_letter_queue":"dlq"}`,
		"zerocount": `{"_max_claim_count":0,"_dead_letter_queue":"dlq"}`,
	} {
		q := ref(name)
		f.create(q, meta)
		posted := f.post(q, "a")
		for n := 1; n <= 4; n++ {
			c := f.claim(q, 1)
			require.Equal(f.t, posted, ids(c.Messages), "%s: claim %d", name, n)
			require.Zero(f.t, c.DeadLettered)
			require.Equal(f.t, n, c.Messages[0].ClaimCount)
			f.release(q, c.Claim.ID, 0)
		}
	}
	f.requireNoQueue(ref("dlq"))
}

func testClaimKeepsFillingLimit(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	f.create(q, `{"_max_claim_count":1,"_dead_letter_queue":"dlq"}`)
	posted := f.post(q, "a", "b", "c")
	f.release(q, f.claim(q, 1).Claim.ID, 0)

	c := f.claim(q, 2)
	require.Equal(f.t, posted[1:], ids(c.Messages), "the claim takes later messages in place of the moved one")
	require.Equal(f.t, 1, c.DeadLettered)
	require.Equal(f.t, "dlq", c.DeadLetterQueue)
	f.counts(q, 0, 2, 0)
	f.counts(dlq, 1, 0, 0)
}
