package bolt

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// The fair lease (L3). Top-level bucket "outbox.dueproj" holds due's
// entries again, keyed project‖0‖next attempt‖delivery ID → sub ID, so a
// project's due deliveries are one key range in time order and the next
// project is one seek away: a lease with PerProject walks the projects
// with deliveries pending and takes from each, whatever the backlog of
// one of them. Every write of due writes it too (putDue, delDue). A file
// written before it gets it on open, filled from due (createOutbox).
var bkDueProj = []byte("outbox.dueproj")

// projectOf returns the project of queue key qk.
func projectOf(qk []byte) []byte {
	if i := bytes.IndexByte(qk, '/'); i >= 0 {
		return qk[:i]
	}
	return qk
}

// dueProjKey is project(qk)‖0‖t‖did.
func dueProjKey(qk []byte, t int64, did store.ID) []byte {
	p := projectOf(qk)
	k := make([]byte, 0, len(p)+1+8+16)
	k = append(k, p...)
	k = append(k, 0)
	return append(k, timeKey(t, did[:])...)
}

// putDue indexes delivery did of subscription sid, of queue key qk, as due
// at t.
func (ob *obuckets) putDue(qk []byte, t int64, did, sid store.ID) error {
	if err := ob.due.Put(timeKey(t, did[:]), bytes.Clone(sid[:])); err != nil {
		return err
	}
	return ob.dueProj.Put(dueProjKey(qk, t, did), bytes.Clone(sid[:]))
}

// delDue takes delivery did of queue key qk, due at t, out of the due
// indexes.
func (ob *obuckets) delDue(qk []byte, t int64, did store.ID) error {
	if err := ob.due.Delete(timeKey(t, did[:])); err != nil {
		return err
	}
	return ob.dueProj.Delete(dueProjKey(qk, t, did))
}

// projectDue returns up to n entries of project's range of dueproj that
// are due by now: their due keys (next‖did) and values.
func projectDue(b *bbolt.Bucket, project []byte, now int64, n int) (ks, vs [][]byte) {
	prefix := append(bytes.Clone(project), 0)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && len(ks) < n && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		dk := k[len(prefix):]
		if keyTime(dk) > now {
			break
		}
		ks, vs = append(ks, bytes.Clone(dk)), append(vs, bytes.Clone(v))
	}
	return ks, vs
}

// dueProjects returns the projects with entries in dueproj in turn
// order: name order from the first at or after from, then those before
// it. It costs a seek per project.
func dueProjects(b *bbolt.Bucket, from string) [][]byte {
	var after, before [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			k, _ = c.Next() // not a dueproj key; Verify names it
			continue
		}
		p := bytes.Clone(k[:i])
		if string(p) >= from {
			after = append(after, p)
		} else {
			before = append(before, p)
		}
		k, _ = c.Seek(append(bytes.Clone(p), 1)) // past the project's range
	}
	return append(after, before...)
}

// fillDueProj builds dueproj from due, for a file written before it.
func fillDueProj(tx *bbolt.Tx) error {
	due, dels, dp := tx.Bucket(bkDue), tx.Bucket(bkDels), tx.Bucket(bkDueProj)
	if due == nil || dels == nil || dp == nil {
		return nil
	}
	return due.ForEach(func(k, v []byte) error {
		if len(k) != 24 || len(v) != 16 {
			return nil // Verify reports it
		}
		did, sid := idOf(k[8:]), idOf(v)
		r, err := decodeDel(sid, did, dels.Get(pairKey(sid, did)))
		if err != nil {
			return nil // a stale entry: the lease drops it
		}
		return dp.Put(dueProjKey(r.qk, keyTime(k), did), bytes.Clone(v))
	})
}
