package bolt

import (
	"bytes"
	"context"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// Verify reads the whole file and reports ErrCorrupt at the first thing
// wrong: a page bbolt's own check rejects (tx.Check), a record that does
// not decode or whose body fails its checksum, or an index that disagrees
// with the records (D3: every index agrees with the data), the outbox's
// included. It is for tools,
// tests and start-up after a crash, not for hot paths: it costs a read of
// every page.
func (s *Store) Verify(ctx context.Context) error {
	return s.view(func(tx *bbolt.Tx) error {
		if err := touchPages(tx); err != nil {
			return err
		}
		// Drain every error: Check reads tx from a goroutine of its own
		// until it closes the channel, and returning early would close
		// tx under it (a data race, seen by FuzzOpenBolt under -race).
		var damage error
		for err := range tx.Check() {
			if damage == nil {
				damage = err
			}
		}
		if damage != nil {
			return store.Errorf(store.ErrCorrupt, "%s: %v", s.path, damage)
		}
		queues := tx.Bucket(bkQueues)
		if queues == nil {
			return store.Errorf(store.ErrCorrupt, "%s: the queues bucket is missing", s.path)
		}
		perProject := make(map[string]int)
		void := voidBucket(tx)
		if void == nil {
			return store.Errorf(store.ErrCorrupt, "%s: the herald bucket has no %q bucket", s.path, bkVoid)
		}
		if k, _ := void.Cursor().First(); k != nil {
			return store.Errorf(store.ErrCorrupt, "%s: the shared empty bucket %q holds key %x", s.path, bkVoid, k)
		}
		err := queues.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := queues.Bucket(k)
			if v != nil || b == nil {
				return store.Errorf(store.ErrCorrupt, "%s: queue %q is not a bucket", s.path, k)
			}
			if i := bytes.IndexByte(k, '/'); i >= 0 {
				perProject[string(k[:i])]++
			}
			if err := verifyQueue(b, void); err != nil {
				return store.Wrapf(err, "%s: queue %q", s.path, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := verifyProjects(tx, perProject); err != nil {
			return store.Wrapf(err, "%s", s.path)
		}
		if err := verifyOutbox(tx); err != nil {
			return store.Wrapf(err, "%s: outbox", s.path)
		}
		if err := verifyDamaged(tx); err != nil {
			return store.Wrapf(err, "%s: damaged messages", s.path)
		}
		return nil
	})
}

// verifyProjects checks the queue counts (L1) against the queues there
// are, perProject.
func verifyProjects(tx *bbolt.Tx, perProject map[string]int) error {
	b := tx.Bucket(bkProjects)
	if b == nil {
		return store.Errorf(store.ErrCorrupt, "the projects bucket is missing")
	}
	stored := 0
	err := b.ForEach(func(k, v []byte) error {
		stored++
		p, ok := bytes.CutSuffix(k, []byte("/"))
		if !ok || len(v) != 8 {
			return store.Errorf(store.ErrCorrupt, "queue count %q: bad key or value", k)
		}
		if n, want := queueCount(b, string(p)), perProject[string(p)]; n != want {
			return store.Errorf(store.ErrCorrupt, "project %q: queue count %d, but %d queues", p, n, want)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if stored != len(perProject) {
		return store.Errorf(store.ErrCorrupt, "queue counts for %d projects, but %d projects have queues", stored, len(perProject))
	}
	return nil
}

// touchPages reads every key of every bucket, nested ones too, which reads
// every branch and leaf page tx.Check will. tx.Check reads them in a
// goroutine of its own, where a page pointer outside the file is a fatal
// fault; here, under view's faultsPanic, it is a panic view turns into
// ErrCorrupt. So the walk goes first and Check only reads pages that are
// known to be readable.
func touchPages(tx *bbolt.Tx) error {
	var walk func(b *bbolt.Bucket) error
	walk = func(b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if nested := b.Bucket(k); nested != nil {
					return walk(nested)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error { return walk(b) })
}

// verifyQueue checks one queue. Each message must be in expiry, and in
// exactly one of ready, delayed or a claim; the counters and the sizes of
// the indexes must match what the records say, so no index holds an entry
// without a record either.
func verifyQueue(b, void *bbolt.Bucket) error {
	bs, _, err := openBuckets(b, void, "")
	if err != nil {
		return err
	}
	stored, err := decodeCounts(b.Get(keyCount))
	if err != nil {
		return err
	}
	var seen counts
	held := map[store.ID]int64{}
	err = bs.msgs.ForEach(func(k, v []byte) error {
		id := idOf(k)
		r, err := decodeRec(id, v)
		if err != nil {
			return err
		}
		if store.Checksum(r.body) != r.sum {
			return store.Errorf(store.ErrCorrupt, "message %s: body checksum mismatch", id)
		}
		seen.total++
		inReady, inDelayed := has(bs.ready, k), has(bs.delayed, timeKey(r.visibleAt, k))
		switch {
		case !has(bs.expiry, timeKey(r.expires, k)):
			return inconsistent("message %s is missing from the expiry index", id)
		case !r.claim.IsZero():
			seen.claimed++
			held[r.claim]++
			if inReady || inDelayed || !has(bs.claimMsgs, pairKey(r.claim, id)) || bs.claims.Get(r.claim[:]) == nil {
				return inconsistent("claimed message %s: ready %v, delayed %v, or its claim does not hold it", id, inReady, inDelayed)
			}
		case inReady == inDelayed:
			return inconsistent("free message %s: in ready %v and in delayed %v", id, inReady, inDelayed)
		case inDelayed:
			seen.delayed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if seen != stored {
		return inconsistent("counters say %+v, records say %+v", stored, seen)
	}
	sizes := []struct {
		name string
		got  int
		want int64
	}{
		{"ready", keys(bs.ready), seen.total - seen.claimed - seen.delayed},
		{"delayed", keys(bs.delayed), seen.delayed},
		{"expiry", keys(bs.expiry), seen.total},
		{"claimmsgs", keys(bs.claimMsgs), seen.claimed},
		{"claimexp", keys(bs.claimExp), int64(keys(bs.claims))},
		{"dedupexp", keys(bs.dedupExp), int64(keys(bs.dedup))},
	}
	for _, sz := range sizes {
		if int64(sz.got) != sz.want {
			return inconsistent("index %s has %d entries, want %d", sz.name, sz.got, sz.want)
		}
	}
	return bs.claims.ForEach(func(k, v []byte) error {
		id := idOf(k)
		c, err := decodeClaim(id, v)
		if err != nil {
			return err
		}
		if !has(bs.claimExp, timeKey(c.expires, k)) {
			return inconsistent("claim %s is missing from the claim expiry index", id)
		}
		if c.held != held[id] || c.held != prefixKeys(bs.claimMsgs, k) {
			return inconsistent("claim %s says it holds %d, records say %d, index says %d", id, c.held, held[id], prefixKeys(bs.claimMsgs, k))
		}
		return nil
	})
}

func inconsistent(format string, args ...any) error {
	return store.Errorf(store.ErrCorrupt, "index disagrees with data: "+format, args...)
}

func keys(b *bbolt.Bucket) int { return b.Stats().KeyN }

func prefixKeys(b *bbolt.Bucket, prefix []byte) int64 {
	var n int64
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}
