package memory

import (
	"math"
	"slices"
)

// index is an ordered set of entries: a B+tree made for the message and
// claim indexes. A general B-tree (github.com/google/btree) compares through
// a function value at every step and, deleting at the front of a large
// tree, steals from a sibling on almost every call; on a 1M-message queue
// that made post and delete twice as slow as on an empty one. Here
// comparisons are inlined, entries live only in leaves, splits at a node's
// end leave full nodes behind (IDs, and most times, only grow), and a delete
// merges neighbours only when they fit in one node.
type index struct {
	root *node
	size int
	// finger is the leaf the last Delete removed from, or nil. Queues delete
	// in nearly the order they post, so the next delete usually falls in the
	// same leaf and skips the descent from the root. A leaf leaves the tree
	// only through a merge or by emptying, both on the delete path, which
	// drops the finger; a split keeps the leaf in the tree with a narrower
	// range, which the range check in Delete respects.
	finger *node
}

// entry is an index item: its sort key (t, then k) and the slab index of its
// record. ID indexes leave t zero.
type entry struct {
	t int64
	k key
	i uint32
}

func (a entry) less(b entry) bool { return a.t < b.t || a.t == b.t && a.k.less(b.k) }

// first sorts before every entry.
var first = entry{t: math.MinInt64}

// nodeMax is the most entries or children a node holds: 64 entries of 32
// bytes fill a 2 KiB allocation. A small tree's root grows to that by
// appending, so a queue with few messages keeps small indexes.
const nodeMax = 64

// node is a leaf (kids nil) holding entries, or an inner node whose items[j]
// is a lower bound of kids[j] for j > 0; items[0] of an inner node only
// carries the bound out of a split. Only the root may be empty.
type node struct {
	kids  []*node
	items []entry
}

func (t *index) Len() int { return t.size }

// Clear empties the index.
func (t *index) Clear() { t.root, t.size, t.finger = nil, 0, nil }

// lower returns the position of the first entry not less than x.
func (nd *node) lower(x entry) int {
	lo, hi := 0, len(nd.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if nd.items[m].less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// child returns which kid of an inner node holds x if anything does. An
// append is checked first, since it is the usual insert.
func (nd *node) child(x entry) int {
	last := len(nd.items) - 1
	if !x.less(nd.items[last]) {
		return last
	}
	lo, hi := 1, last
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.less(nd.items[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// Get returns the entry with x's key.
func (t *index) Get(x entry) (entry, bool) {
	if t.size == 0 {
		return entry{}, false
	}
	nd := t.root
	for nd.kids != nil {
		nd = nd.kids[nd.child(x)]
	}
	if i := nd.lower(x); i < len(nd.items) && !x.less(nd.items[i]) {
		return nd.items[i], true
	}
	return entry{}, false
}

// Min returns the least entry.
func (t *index) Min() (entry, bool) {
	if t.size == 0 {
		return entry{}, false
	}
	nd := t.root
	for nd.kids != nil {
		nd = nd.kids[0]
	}
	return nd.items[0], true
}

// Max returns the greatest entry.
func (t *index) Max() (entry, bool) {
	if t.size == 0 {
		return entry{}, false
	}
	nd := t.root
	for nd.kids != nil {
		nd = nd.kids[len(nd.kids)-1]
	}
	return nd.items[len(nd.items)-1], true
}

// ReplaceOrInsert adds x, replacing an entry with the same key.
func (t *index) ReplaceOrInsert(x entry) {
	if t.root == nil {
		t.root = &node{}
	}
	added, right := t.root.insert(x)
	if added {
		t.size++
	}
	if right != nil {
		left := t.root
		t.root = &node{
			kids:  append(make([]*node, 0, nodeMax), left, right),
			items: append(make([]entry, 0, nodeMax), left.items[0], right.items[0]),
		}
	}
}

// insert adds x under nd. It reports whether x is new, and returns a new
// right sibling if nd had to split; its items[0] bounds it from below.
func (nd *node) insert(x entry) (added bool, right *node) {
	if nd.kids == nil {
		i := nd.lower(x)
		if i < len(nd.items) && !x.less(nd.items[i]) {
			nd.items[i] = x
			return false, nil
		}
		return true, nd.put(i, x, nil)
	}
	j := nd.child(x)
	added, kid := nd.kids[j].insert(x)
	if kid == nil {
		return added, nil
	}
	return added, nd.put(j+1, kid.items[0], kid)
}

// put inserts x (and kid, in an inner node) at position i, splitting nd if
// it is full, and returns the new right sibling if it split.
func (nd *node) put(i int, x entry, kid *node) *node {
	if len(nd.items) < nodeMax {
		nd.insertAt(i, x, kid)
		return nil
	}
	right := nd.split(i)
	if n := len(nd.items); i < n || i == n && n < nodeMax {
		nd.insertAt(i, x, kid)
	} else {
		right.insertAt(i-n, x, kid)
	}
	return right
}

func (nd *node) insertAt(i int, x entry, kid *node) {
	nd.items = slices.Insert(nd.items, i, x)
	if kid != nil {
		nd.kids = slices.Insert(nd.kids, i, kid)
	}
}

// split moves the upper half of a full node to a new right sibling, about to
// take an insert at position at. A split for an insert at the end moves
// nothing, so appends leave full nodes behind rather than half-empty ones.
func (nd *node) split(at int) *node {
	mid := nodeMax / 2
	if at == nodeMax {
		mid = nodeMax
	}
	right := &node{items: append(make([]entry, 0, nodeMax), nd.items[mid:]...)}
	nd.items = nd.items[:mid]
	if nd.kids != nil {
		right.kids = append(make([]*node, 0, nodeMax), nd.kids[mid:]...)
		clear(nd.kids[mid:])
		nd.kids = nd.kids[:mid]
	}
	return right
}

// Delete removes and returns the entry with x's key. An emptied index keeps
// its root leaf, so a queue that keeps emptying does not allocate again.
func (t *index) Delete(x entry) (entry, bool) {
	if t.size == 0 {
		return entry{}, false
	}
	if f := t.finger; f != nil && f.covers(x) && len(f.items) > nodeMax/4 {
		// x can only be in f, and f stays too full to need its parent:
		// exactly what the descent below would do, without the descent.
		return t.removeFrom(f, x)
	}
	var buf [16]step
	path := buf[:0]
	nd := t.root
	for nd.kids != nil {
		j := nd.child(x)
		path = append(path, step{nd, j})
		nd = nd.kids[j]
	}
	old, ok := t.removeFrom(nd, x)
	if !ok {
		return old, false
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].nd.shrink(path[i].j) {
			t.finger = nil // the leaf may have left the tree
		}
	}
	for len(t.root.kids) == 1 {
		t.root = t.root.kids[0]
	}
	return old, true
}

// step is one level of a descent: a node and the kid taken.
type step struct {
	nd *node
	j  int
}

// removeFrom removes x from leaf nd, which must be the only leaf that can
// hold it, and makes nd the finger.
func (t *index) removeFrom(nd *node, x entry) (entry, bool) {
	i := nd.lower(x)
	if i == len(nd.items) || x.less(nd.items[i]) {
		return entry{}, false
	}
	old := nd.items[i]
	nd.removeAt(i)
	t.size--
	t.finger = nd
	return old, true
}

// covers reports whether x falls within leaf nd's entries, so that no other
// leaf can hold it.
func (nd *node) covers(x entry) bool {
	n := len(nd.items)
	return n > 0 && !x.less(nd.items[0]) && !nd.items[n-1].less(x)
}

// DeleteMin removes and returns the least entry.
func (t *index) DeleteMin() (entry, bool) {
	x, ok := t.Min()
	if ok {
		t.Delete(x)
	}
	return x, ok
}

// shrink tidies kid j after a delete under it: an empty kid goes, and one
// under a quarter full merges with a neighbour if both fit in one node.
// Merging only pairs that fit keeps deletes cheap (no stealing back and
// forth), and a pair that does not fit is over half full on average.
// It reports whether it changed the tree's shape.
func (nd *node) shrink(j int) bool {
	n := len(nd.kids[j].items)
	switch {
	case n == 0:
		nd.removeAt(j)
	case n >= nodeMax/4:
		return false
	case j+1 < len(nd.kids) && n+len(nd.kids[j+1].items) <= nodeMax:
		nd.merge(j)
	case j > 0 && len(nd.kids[j-1].items)+n <= nodeMax:
		nd.merge(j - 1)
	default:
		return false
	}
	return true
}

// merge moves kid j+1 into kid j.
func (nd *node) merge(j int) {
	a, b := nd.kids[j], nd.kids[j+1]
	if b.kids != nil {
		b.items[0] = nd.items[j+1] // bounds b's first kid from below
		a.kids = append(a.kids, b.kids...)
	}
	a.items = append(a.items, b.items...)
	nd.removeAt(j + 1)
}

// removeAt removes entry i, and kid i of an inner node. A leaf shifts
// whichever side of i is shorter: queues consume their indexes from the
// front, and shifting the rest of a 2 KiB leaf on every claim and delete
// was most of what a large queue cost over an empty one.
func (nd *node) removeAt(i int) {
	if nd.kids == nil && i < len(nd.items)/2 {
		copy(nd.items[1:i+1], nd.items[:i])
		nd.items = nd.items[1:]
		return
	}
	nd.items = slices.Delete(nd.items, i, i+1)
	if nd.kids != nil {
		nd.kids = slices.Delete(nd.kids, i, i+1)
	}
}

// Ascend calls fn on every entry in order until fn returns false.
func (t *index) Ascend(fn func(entry) bool) { t.AscendGreaterOrEqual(first, fn) }

// AscendGreaterOrEqual calls fn on the entries from x on, in order, until fn
// returns false. fn must not change the index.
func (t *index) AscendGreaterOrEqual(x entry, fn func(entry) bool) {
	if t.size > 0 {
		t.root.ascend(x, fn)
	}
}

func (nd *node) ascend(x entry, fn func(entry) bool) bool {
	if nd.kids == nil {
		for _, it := range nd.items[nd.lower(x):] {
			if !fn(it) {
				return false
			}
		}
		return true
	}
	for _, kid := range nd.kids[nd.child(x):] {
		if !kid.ascend(x, fn) {
			return false
		}
	}
	return true
}
