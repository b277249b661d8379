package memory

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIndex checks index against a sorted slice through enough inserts and
// deletes, in the orders queues produce them, to split and merge nodes
// several levels deep.
func TestIndex(t *testing.T) {
	cases := map[string]func(r *rand.Rand, n int) int64{
		"appends": func(_ *rand.Rand, n int) int64 { return int64(n) },
		"random":  func(r *rand.Rand, _ int) int64 { return r.Int64N(1 << 20) },
		"few":     func(r *rand.Rand, _ int) int64 { return r.Int64N(8) }, // equal times, keys decide
	}
	for name, next := range cases {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var ix index
			var want []entry
			for n := range 60_000 {
				switch op := r.IntN(10); {
				case op < 6 || len(want) == 0:
					e := entry{t: next(r, n), k: key{lo: uint64(n)}, i: uint32(n)}
					ix.ReplaceOrInsert(e)
					i, _ := slices.BinarySearchFunc(want, e, cmpEntry)
					want = slices.Insert(want, i, e)
				case op < 8:
					// Half near the front, as queues consume (the finger's
					// fast path), half anywhere (merges that drop it).
					i := r.IntN(len(want))
					if r.IntN(2) == 0 {
						i = r.IntN(min(len(want), 8))
					}
					e := want[i]
					got, ok := ix.Delete(entry{t: e.t, k: e.k})
					require.True(t, ok)
					require.Equal(t, e, got)
					want = slices.DeleteFunc(want, func(w entry) bool { return w == e })
				default:
					got, ok := ix.DeleteMin()
					require.True(t, ok)
					require.Equal(t, want[0], got)
					want = want[1:]
				}
				if n%5000 == 0 || n == 59_999 {
					checkIndex(t, &ix, want)
				}
			}
			for len(want) > 0 {
				e := want[len(want)-1]
				_, ok := ix.Delete(e)
				require.True(t, ok)
				want = want[:len(want)-1]
			}
			checkIndex(t, &ix, want)
			require.Nil(t, ix.root.kids, "an emptied index keeps only its root leaf")
		})
	}
}

func cmpEntry(a, b entry) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

// checkIndex compares ix with want and checks that every node but the root
// holds something and that leaves are all at one depth.
func checkIndex(t *testing.T, ix *index, want []entry) {
	t.Helper()
	require.Equal(t, len(want), ix.Len())
	got := []entry{}
	ix.Ascend(func(e entry) bool { got = append(got, e); return true })
	require.Equal(t, append([]entry{}, want...), got)
	if len(want) == 0 {
		_, ok := ix.Min()
		require.False(t, ok)
		return
	}
	lo, _ := ix.Min()
	hi, _ := ix.Max()
	require.Equal(t, want[0], lo)
	require.Equal(t, want[len(want)-1], hi)
	for range 50 {
		e := want[rand.IntN(len(want))]
		g, ok := ix.Get(entry{t: e.t, k: e.k})
		require.True(t, ok)
		require.Equal(t, e, g)
	}
	mid := want[len(want)/2]
	var tail []entry
	ix.AscendGreaterOrEqual(mid, func(e entry) bool { tail = append(tail, e); return len(tail) < 10 })
	require.Equal(t, want[len(want)/2:min(len(want), len(want)/2+10)], tail)
	depths := map[int]bool{}
	var walk func(nd *node, d int)
	walk = func(nd *node, d int) {
		require.LessOrEqual(t, len(nd.items), nodeMax)
		if nd != ix.root {
			require.NotEmpty(t, nd.items)
		}
		if nd.kids == nil {
			depths[d] = true
			return
		}
		require.Len(t, nd.kids, len(nd.items))
		for _, k := range nd.kids {
			walk(k, d+1)
		}
	}
	walk(ix.root, 0)
	require.Len(t, depths, 1, "leaves at one depth")
}
