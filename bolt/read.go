package bolt

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// rq is a queue inside a read transaction. Reads never write: they
// interpret what is due but not yet applied at their own Now (B4), so an
// expired message is invisible, an expired claim is dead and an ended delay
// is over, before any write or sweep has applied them.
type rq struct {
	ref store.QueueRef
	b   *bbolt.Bucket
	buckets
}

// readQueue returns the queue ref names in tx, or nil.
func readQueue(tx *bbolt.Tx, ref store.QueueRef) (*rq, error) {
	qs := tx.Bucket(bkQueues)
	if qs == nil {
		return nil, store.Errorf(store.ErrCorrupt, "the queues bucket is missing")
	}
	b := qs.Bucket(queueKey(ref))
	if b == nil {
		return nil, nil
	}
	bs, _, err := openBuckets(b, voidBucket(tx), string(queueKey(ref)))
	if err != nil {
		return nil, err
	}
	return &rq{ref: ref, b: b, buckets: bs}, nil
}

func (q *rq) rec(id store.ID) (rec, bool, error) {
	v := q.msgs.Get(id[:])
	if v == nil {
		return rec{}, false, nil
	}
	r, err := decodeRec(id, v)
	return r, err == nil, err
}

// settled reports whether nothing is due at now: no claim has expired, no
// delay ended and no message expired since the last write applied them.
func (q *rq) settled(now int64) bool { return q.due() > now }

// due returns the earliest time in the claim expiry, delay and message
// expiry indexes, or never.
func (q *rq) due() int64 {
	return min(firstTime(q.claimExp), firstTime(q.delayed), firstTime(q.expiry))
}

// Message states, for stats.
const (
	stFree = iota
	stDelayed
	stClaimed
	stGone
)

// stats returns the queue's counts at now: the stored counters corrected
// for what fell due since they were written. Only due index prefixes are
// walked, so the cost follows what fell due, not what is stored (Q5).
func (q *rq) stats(now int64) (store.Stats, error) {
	cnt, err := decodeCounts(q.b.Get(keyCount))
	if err != nil {
		return store.Stats{}, err
	}
	affected := make(map[store.ID]struct{})
	c := q.claimExp.Cursor()
	for k, _ := c.First(); k != nil && keyTime(k) <= now; k, _ = c.Next() {
		for _, id := range members(q.claimMsgs, idOf(k[8:])) {
			affected[id] = struct{}{}
		}
	}
	for _, b := range []*bbolt.Bucket{q.delayed, q.expiry} {
		c := b.Cursor()
		for k, _ := c.First(); k != nil && keyTime(k) <= now; k, _ = c.Next() {
			affected[idOf(k[8:])] = struct{}{}
		}
	}
	n := [4]int64{stFree: cnt.total - cnt.claimed - cnt.delayed, stDelayed: cnt.delayed, stClaimed: cnt.claimed}
	for id := range affected {
		r, ok, err := q.rec(id)
		if err != nil {
			return store.Stats{}, err
		}
		if !ok {
			continue
		}
		was := stFree
		switch {
		case !r.claim.IsZero():
			was = stClaimed
		case has(q.delayed, timeKey(r.visibleAt, id[:])):
			was = stDelayed
		}
		is := stFree
		switch {
		case r.expires <= now:
			is = stGone
		case r.claimed(now):
			is = stClaimed
		case r.visibleAt > now:
			is = stDelayed
		}
		n[was]--
		n[is]++
	}
	st := store.Stats{Free: n[stFree], Claimed: n[stClaimed], Delayed: n[stDelayed]}
	st.Total = st.Free + st.Claimed + st.Delayed
	if st.Total > 0 {
		if st.Oldest, err = q.edge(now, true); err != nil {
			return store.Stats{}, err
		}
		if st.Newest, err = q.edge(now, false); err != nil {
			return store.Stats{}, err
		}
	}
	return st, nil
}

// edge returns the oldest (or newest) unexpired message, stepping over
// expired ones, which are due items.
func (q *rq) edge(now int64, oldest bool) (*store.MessageRef, error) {
	c := q.msgs.Cursor()
	step, first := c.Prev, c.Last
	if oldest {
		step, first = c.Next, c.First
	}
	for k, v := first(); k != nil; k, v = step() {
		id := idOf(k)
		r, err := decodeRec(id, v)
		if err != nil {
			return nil, err
		}
		if r.expires > now {
			return &store.MessageRef{ID: id, Created: toTime(r.created)}, nil
		}
	}
	return nil, nil
}

// visibleState applies the listing filters of M6 to r at now.
func visible(r *rec, now int64, p *store.ListMessagesParams) bool {
	switch {
	case r.expires <= now:
		return false
	case r.claimed(now):
		if !p.IncludeClaimed {
			return false
		}
	case r.visibleAt > now:
		if !p.IncludeDelayed {
			return false
		}
	}
	return p.ClientID == "" || p.Echo || !bytes.Equal(r.clientID, []byte(p.ClientID))
}

// list returns up to p.Limit messages after p.Marker as M6 says, and the
// damaged ones it stepped over (M11). With nothing due and only free
// messages asked for, it walks the ready index; otherwise it walks every
// message from the marker and filters each.
func (q *rq) list(now int64, p *store.ListMessagesParams) (out []store.Message, bad []store.ID, err error) {
	idx := q.msgs
	if !p.IncludeClaimed && !p.IncludeDelayed && q.settled(now) {
		idx = q.ready
	}
	c := idx.Cursor()
	var k []byte
	if p.Marker.IsZero() {
		k, _ = c.First()
	} else {
		k, _ = c.Seek(p.Marker[:])
		if k != nil && bytes.Equal(k, p.Marker[:]) {
			k, _ = c.Next()
		}
	}
	for ; k != nil && len(out) < p.Limit; k, _ = c.Next() {
		id := idOf(k)
		r, ok, err := q.rec(id)
		if err != nil {
			return nil, nil, err
		}
		if !ok || !visible(&r, now, p) {
			continue
		}
		if !store.Intact(r.body, r.sum) {
			bad = append(bad, id)
			continue
		}
		m, err := r.message(id, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, m)
	}
	return out, bad, nil
}
