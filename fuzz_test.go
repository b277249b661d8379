package herald_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// Q3: arbitrary bytes as queue metadata. store.ParseQueueOptions never
// panics, fails only with ErrInvalidMetadata, and on success its typed
// fields match the JSON. Through the API, bytes that decode into a
// herald.Metadata either set the metadata (read back equal, Options equal
// to the parse) or fail with ErrInvalidMetadata and change nothing.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `[]`, `"x"`, ``, `{"a":1}`,
		`{"_default_message_ttl":60,"_max_claim_count":3,"_dead_letter_queue":"dlq","_flavor":"f"}`,
		`{"_default_message_ttl":-1}`, `{"_default_message_ttl":1.5}`, `{"_default_message_ttl":1e300}`,
		`{"_max_messages_post_size":2147483648}`, `{"_dead_letter_queue":"a/b"}`, `{"_dead_letter_queue":"q"}`,
		`{"_dead_letter_queue_messages_ttl":null,"_flavor":7}`, `{"_default_message_delay":901}`,
		`{"_default_message_ttl":9223372036}`, `{"a":1,"a":2}`, `{"_max_claim_count":1,"_max_claim_count":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := store.ParseQueueOptions(raw)
		if err != nil {
			require.ErrorIs(t, err, herald.ErrInvalidMetadata)
			require.Equal(t, store.QueueOptions{}, o)
		} else {
			requireOptionsMatch(t, raw, o)
		}

		var m herald.Metadata
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		svc := newService(t, func(o *herald.Options) { o.SweepInterval = -1 })
		ctx := context.Background()
		q := svc.Queue("q")
		before := herald.Metadata{"keep": "me"}
		_, err = q.Create(ctx, before)
		require.NoError(t, err)
		if err := q.SetMetadata(ctx, m); err != nil {
			require.ErrorIs(t, err, herald.ErrInvalidMetadata)
			got, err := q.Metadata(ctx)
			require.NoError(t, err)
			require.Equal(t, before, got, "a refused SetMetadata changes nothing")
			return
		}
		want, err := json.Marshal(m)
		require.NoError(t, err)
		if m == nil {
			want = []byte("{}") // documented: nil metadata is {}
		}
		got, err := q.Metadata(ctx)
		require.NoError(t, err)
		gotRaw, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(gotRaw))
		qo, err := q.Options(ctx)
		require.NoError(t, err)
		po, err := store.ParseQueueOptions(want)
		require.NoError(t, err)
		require.Equal(t, po, qo)
	})
}

// requireOptionsMatch checks ParseQueueOptions' result against the JSON,
// read independently.
func requireOptionsMatch(t *testing.T, raw []byte, o store.QueueOptions) {
	t.Helper()
	var m map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(t, json.Unmarshal(raw, &m))
		require.NotNil(t, m, "only a JSON object parses")
	}
	num := func(k string) float64 {
		v, ok := m[k]
		if !ok || v == nil {
			return 0
		}
		f, ok := v.(float64)
		require.True(t, ok, "%s: %v is not a number", k, v)
		require.Equal(t, math.Trunc(f), f)
		require.GreaterOrEqual(t, f, 0.0)
		return f
	}
	str := func(k string) string {
		v, ok := m[k]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		require.True(t, ok, "%s: %v is not a string", k, v)
		return s
	}
	require.Equal(t, time.Duration(num(store.KeyDefaultMessageTTL))*time.Second, o.DefaultMessageTTL)
	require.Equal(t, time.Duration(num(store.KeyDefaultMessageDelay))*time.Second, o.DefaultMessageDelay)
	require.Equal(t, time.Duration(num(store.KeyDeadLetterTTL))*time.Second, o.DeadLetterTTL)
	require.Equal(t, int(num(store.KeyMaxPostSize)), o.MaxPostSize)
	require.Equal(t, int(num(store.KeyMaxClaimCount)), o.MaxClaimCount)
	require.Equal(t, str(store.KeyDeadLetterQueue), o.DeadLetterQueue)
	require.Equal(t, str(store.KeyFlavor), o.Flavor)
	if o.DeadLetterQueue != "" {
		require.NoError(t, store.CheckQueueName(o.DeadLetterQueue))
	}
}

// Choices the post fuzzer draws from: each side of every limit.
var (
	fuzzTTLs = []time.Duration{0, 1, time.Second - 1, time.Second, time.Hour,
		14 * 24 * time.Hour, 14*24*time.Hour + 1, -1, math.MaxInt64, math.MinInt64}
	fuzzDelays = []time.Duration{0, 1, time.Minute, 15 * time.Minute, 15*time.Minute + 1, -1, math.MaxInt64}
	fuzzSizes  = []int{0, 1, 100, 256 << 10, 256<<10 + 1, 128 << 10}
)

// M1, M3, M4, M5, M10: a batch built from the fuzz input (count, body
// sizes, TTLs, delays, dedup IDs) either fails with the error the limits
// predict — ErrInvalid or a child — and stores nothing, or succeeds with
// one ID per draft in input order (strictly increasing for new messages,
// the first's ID for a repeated DedupID) and every body intact on Get.
func FuzzPostBatch(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 'a'})
	f.Add([]byte{3, 2, 4, 1, 1, 'x', 2, 4, 1, 1, 'x', 2, 0, 0, 0})
	f.Add([]byte{2, 3, 0, 0, 0, 3, 0, 0, 0})     // two 256 KiB bodies: the batch is too large
	f.Add([]byte{1, 4, 0, 0, 0})                 // 256 KiB + 1
	f.Add([]byte{1, 1, 7, 0, 0, 1, 8, 0, 0})     // TTL -1
	f.Add([]byte{1, 1, 0, 4, 0, 1, 0, 5, 0})     // delay 15 min + 1
	f.Add([]byte{0})                             // no drafts
	f.Add([]byte{200, 1, 0, 0, 1, 'k', 1, 0, 0}) // many drafts, one dedup id
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzReader{b: in}
		n := int(r.byte()) % 12
		drafts := make([]herald.Draft, n)
		valid := n >= 1
		total := 0
		for i := range drafts {
			size := fuzzSizes[int(r.byte())%len(fuzzSizes)]
			if size == 100 {
				size = int(r.byte())
			}
			body := make([]byte, size)
			for j := range body {
				body[j] = byte(i*31 + j)
			}
			d := herald.Draft{
				Body:  body,
				TTL:   fuzzTTLs[int(r.byte())%len(fuzzTTLs)],
				Delay: fuzzDelays[int(r.byte())%len(fuzzDelays)],
			}
			if k := r.byte() % 4; k > 0 {
				d.DedupID = string(rune('a' + k)) // a small alphabet: repeats happen
			}
			drafts[i] = d
			total += size
			valid = valid && size <= 256<<10 && (d.TTL == 0 || d.TTL >= time.Second && d.TTL <= 14*24*time.Hour) &&
				d.Delay >= 0 && d.Delay <= 15*time.Minute
		}
		valid = valid && total <= 256<<10

		clk := newClock()
		svc := newService(t, func(o *herald.Options) { o.Now = clk.Now; o.SweepInterval = -1 })
		ctx := context.Background()
		q := svc.Queue("q")
		prior := post(t, q, "prior") // so a refused post has something to leave alone
		clk.Advance(time.Millisecond)

		ids, err := q.Post(ctx, drafts...)
		if !valid {
			require.ErrorIs(t, err, herald.ErrInvalid)
			require.Nil(t, ids)
			st, err := q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), st.Total, "a refused post stores nothing")
			return
		}
		require.NoError(t, err)
		require.Len(t, ids, n)
		first := map[string]int{}
		last := prior[0]
		fresh := 0
		for i, d := range drafts {
			if j, ok := first[d.DedupID]; ok && d.DedupID != "" {
				require.Equal(t, ids[j], ids[i], "draft %d repeats draft %d's DedupID", i, j)
				continue
			}
			first[d.DedupID] = i
			require.Positive(t, ids[i].Compare(last), "draft %d: IDs increase in input order", i)
			last = ids[i]
			fresh++
			m, err := q.Get(ctx, ids[i])
			require.NoError(t, err)
			require.Equal(t, d.Body, m.Body, "draft %d", i)
			if m.Body == nil {
				require.Empty(t, d.Body)
			}
		}
		st, err := q.Stats(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1+fresh), st.Total)
	})
}

// fuzzReader hands out the fuzz input a byte at a time, then zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
