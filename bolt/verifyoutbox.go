package bolt

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// verifyOutbox checks the outbox against its records (D3): every
// subscription belongs to an existing queue and is in subqueue (with its
// expiry and confirmed flag) and subexp; every subnames entry names a
// subscription of that queue and subscriber; every delivery decodes, has
// its body's checksum, belongs to an existing subscription of its queue,
// and is in exactly one of due (pending, at its next attempt) and failed
// plus subfailed (failed), the due and failed entries naming its
// subscription. The index sizes then
// show that no index holds an entry without a record.
func verifyOutbox(tx *bbolt.Tx) error {
	ob, err := openOutbox(tx)
	if err != nil {
		return err
	}
	queues := tx.Bucket(bkQueues)
	subs := map[store.ID]*subRec{}
	err = ob.subs.ForEach(func(k, v []byte) error {
		id := idOf(k)
		r, err := decodeSub(id, v)
		if err != nil {
			return err
		}
		if queues.Bucket(r.qk) == nil {
			return inconsistent("subscription %s: queue %q does not exist", id, r.qk)
		}
		if !bytes.Equal(ob.subQueue.Get(queueIDKey(r.qk, id)), subQueueValue(&r)) {
			return inconsistent("subscription %s: its subqueue entry is missing or stale", id)
		}
		if !has(ob.subExp, timeKey(r.expires, id[:])) {
			return inconsistent("subscription %s is missing from the expiry index", id)
		}
		subs[id] = &r
		return nil
	})
	if err != nil {
		return err
	}
	err = ob.subNames.ForEach(func(k, v []byte) error {
		r := subs[idOf(v)]
		if len(v) != 16 || r == nil || !bytes.Equal(k, nameKey(r.qk, r.subscriber)) {
			return inconsistent("subscriber name entry %q names no subscription of it", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var pending, failed int
	err = ob.dels.ForEach(func(k, v []byte) error {
		if len(k) != 32 {
			return inconsistent("delivery key %x: want a subscription and a delivery ID", k)
		}
		sid, id := idOf(k[:16]), idOf(k[16:])
		r, err := decodeDel(sid, id, v)
		if err != nil {
			return err
		}
		if store.Checksum(r.body) != r.sum {
			return store.Errorf(store.ErrCorrupt, "delivery %s: body checksum mismatch", id)
		}
		if sr := subs[sid]; sr == nil || !bytes.Equal(sr.qk, r.qk) {
			return inconsistent("delivery %s: subscription %s of queue %q does not exist", id, sid, r.qk)
		}
		dv, inDue := ob.due.Get(timeKey(r.next, id[:])), has(ob.due, timeKey(r.next, id[:]))
		fv := ob.failed.Get(queueIDKey(r.qk, id))
		inFailed := has(ob.failed, queueIDKey(r.qk, id)) && has(ob.subFailed, pairKey(sid, id))
		if (inDue && !bytes.Equal(dv, sid[:])) || (inFailed && !bytes.Equal(fv, sid[:])) {
			return inconsistent("delivery %s: its index entry names another subscription", id)
		}
		if r.failed {
			failed++
		} else {
			pending++
		}
		if !r.failed && !bytes.Equal(ob.dueProj.Get(dueProjKey(r.qk, r.next, id)), sid[:]) {
			return inconsistent("delivery %s: missing from its project's due index", id)
		}
		if inDue == r.failed || inFailed != r.failed {
			return inconsistent("delivery %s (failed %v): in due %v, in failed %v", id, r.failed, inDue, inFailed)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sz := range []struct {
		name      string
		got, want int
	}{
		{"subqueue", keys(ob.subQueue), len(subs)},
		{"subexp", keys(ob.subExp), len(subs)},
		{"due", keys(ob.due), pending},
		{"dueproj", keys(ob.dueProj), pending},
		{"failed", keys(ob.failed), failed},
		{"subfailed", keys(ob.subFailed), failed},
	} {
		if sz.got != sz.want {
			return inconsistent("outbox index %s has %d entries, want %d", sz.name, sz.got, sz.want)
		}
	}
	return nil
}
