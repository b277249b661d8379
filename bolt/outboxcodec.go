package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// The outbox layout (S1, S2): top-level buckets named "outbox." and
// these names, made on open when missing (so a file written before
// subscriptions existed opens as it is). They are top level, not nested in
// one bucket, so a post's deliveries dirty no page of a parent bucket: the
// root bucket's page is written by every commit anyway. qk is a queue key
// (project "/" name) and 0 a zero byte: a project has no control
// characters and a name none at all, so qk‖0 is a prefix that no other
// queue's keys share.
//
//	subs       sub ID → subscription record
//	subnames   qk‖0‖subscriber → sub ID: the latest subscription made for
//	           the subscriber, live or expired (S1 uniqueness)
//	subqueue   qk‖0‖sub ID → expires‖confirmed: a queue's subscriptions,
//	           with what a post needs to pick the live ones
//	subexp     expires‖sub ID (B1)
//	dels       sub ID‖delivery ID → delivery record: a subscription's
//	           deliveries are one key range, so no index lists them
//	due        next attempt‖delivery ID → sub ID: pending deliveries, every
//	           queue; the value completes the dels key
//	failed     qk‖0‖delivery ID → sub ID: a queue's failed deliveries
//	subfailed  sub ID‖delivery ID → a subscription's failed deliveries
//
// A post writes two keys per delivery, the record and its due entry,
// both at the end of their ranges (IDs and times increase).
var (
	bkSubs      = []byte("outbox.subs")
	bkSubNames  = []byte("outbox.subnames")
	bkSubQueue  = []byte("outbox.subqueue")
	bkSubExp    = []byte("outbox.subexp")
	bkDels      = []byte("outbox.dels")
	bkDue       = []byte("outbox.due")
	bkFailed    = []byte("outbox.failed")
	bkSubFailed = []byte("outbox.subfailed")
)

var outboxBuckets = [][]byte{bkSubs, bkSubNames, bkSubQueue, bkSubExp, bkDels, bkDue, bkFailed, bkSubFailed, bkDueProj}

// obuckets are the outbox's buckets.
type obuckets struct {
	subs, subNames, subQueue, subExp, dels, due, failed, subFailed, dueProj *bbolt.Bucket
}

// openOutbox returns the outbox buckets of tx, or ErrCorrupt if one is
// missing.
func openOutbox(tx *bbolt.Tx) (*obuckets, error) {
	o := &obuckets{}
	for i, dst := range []**bbolt.Bucket{&o.subs, &o.subNames, &o.subQueue, &o.subExp, &o.dels, &o.due, &o.failed, &o.subFailed, &o.dueProj} {
		if *dst = tx.Bucket(outboxBuckets[i]); *dst == nil {
			return nil, store.Errorf(store.ErrCorrupt, "outbox bucket %q is missing", outboxBuckets[i])
		}
	}
	if tx.Writable() {
		// Keys that arrive in order: pack the pages (see wq.setFill).
		o.dels.FillPercent = 1.0
		o.due.FillPercent = 0.9
	}
	return o, nil
}

// createOutbox makes the outbox buckets that are missing: on a new file,
// and on a file written before subscriptions existed.
func createOutbox(tx *bbolt.Tx) error {
	fill := tx.Bucket(bkDueProj) == nil && tx.Bucket(bkDue) != nil
	for _, name := range outboxBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if fill { // a file from before the fair lease (duefair.go)
		return fillDueProj(tx)
	}
	return nil
}

// queuePrefix is qk‖0.
func queuePrefix(qk []byte) []byte {
	p := make([]byte, 0, len(qk)+1+16)
	p = append(p, qk...)
	return append(p, 0)
}

// queueIDKey is qk‖0‖id.
func queueIDKey(qk []byte, id store.ID) []byte { return append(queuePrefix(qk), id[:]...) }

// refOf parses a queue key.
func refOf(qk []byte) store.QueueRef {
	i := bytes.IndexByte(qk, '/')
	if i < 0 {
		return store.QueueRef{Name: string(qk)}
	}
	return store.QueueRef{Project: string(qk[:i]), Name: string(qk[i+1:])}
}

// A subscription record:
//
//	created, expires, ttl  int64
//	confirmed              byte
//	qk, subscriber         uvarint length then bytes, each
//	options                the rest
type subRec struct {
	created, expires, ttl int64
	confirmed             bool
	qk                    []byte
	subscriber            []byte
	options               []byte
}

const subHeader = 3*8 + 1

func putBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func getBytes(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):], true
}

func (r *subRec) encode() []byte {
	b := make([]byte, subHeader, subHeader+2*binary.MaxVarintLen16+len(r.qk)+len(r.subscriber)+len(r.options))
	binary.BigEndian.PutUint64(b[0:], uint64(r.created))
	binary.BigEndian.PutUint64(b[8:], uint64(r.expires))
	binary.BigEndian.PutUint64(b[16:], uint64(r.ttl))
	if r.confirmed {
		b[24] = 1
	}
	b = putBytes(b, r.qk)
	b = putBytes(b, r.subscriber)
	return append(b, r.options...)
}

func decodeSub(id store.ID, b []byte) (subRec, error) {
	bad := func() (subRec, error) {
		return subRec{}, store.Errorf(store.ErrCorrupt, "subscription %s: bad record", id)
	}
	if len(b) < subHeader {
		return bad()
	}
	r := subRec{
		created:   int64(binary.BigEndian.Uint64(b[0:])),
		expires:   int64(binary.BigEndian.Uint64(b[8:])),
		ttl:       int64(binary.BigEndian.Uint64(b[16:])),
		confirmed: b[24] == 1,
	}
	var ok bool
	rest := b[subHeader:]
	if r.qk, rest, ok = getBytes(rest); !ok {
		return bad()
	}
	if r.subscriber, rest, ok = getBytes(rest); !ok {
		return bad()
	}
	r.options = rest
	return r, nil
}

func (r *subRec) live(now int64) bool { return r.expires > now }

func (r *subRec) record(id store.ID) store.Subscription {
	return store.Subscription{
		ID:         id,
		Queue:      refOf(r.qk),
		Subscriber: string(r.subscriber),
		TTL:        time.Duration(r.ttl),
		Options:    json.RawMessage(bytes.Clone(r.options)),
		Confirmed:  r.confirmed,
		Created:    toTime(r.created),
		Expires:    toTime(r.expires),
	}
}

// subQueueValue is what subqueue keeps of a subscription: expires and
// confirmed.
func subQueueValue(r *subRec) []byte {
	v := make([]byte, 9)
	binary.BigEndian.PutUint64(v, uint64(r.expires))
	if r.confirmed {
		v[8] = 1
	}
	return v
}

// A delivery record (its subscription is in its key):
//
//	message              [16]byte
//	created, ttl, next   int64
//	attempts, checksum   uint32 (checksum: CRC32C of body, M11)
//	failed               byte
//	qk, last error       uvarint length then bytes, each
//	body                 the rest
type delRec struct {
	sub, msg           store.ID
	created, ttl, next int64
	attempts, sum      uint32
	failed             bool
	qk, lastErr, body  []byte
}

const delHeader = 16 + 3*8 + 2*4 + 1

func (r *delRec) encode() []byte {
	b := make([]byte, delHeader, delHeader+2*binary.MaxVarintLen16+len(r.qk)+len(r.lastErr)+len(r.body))
	copy(b[0:], r.msg[:])
	binary.BigEndian.PutUint64(b[16:], uint64(r.created))
	binary.BigEndian.PutUint64(b[24:], uint64(r.ttl))
	binary.BigEndian.PutUint64(b[32:], uint64(r.next))
	binary.BigEndian.PutUint32(b[40:], r.attempts)
	binary.BigEndian.PutUint32(b[44:], r.sum)
	if r.failed {
		b[48] = 1
	}
	b = putBytes(b, r.qk)
	b = putBytes(b, r.lastErr)
	return append(b, r.body...)
}

func decodeDel(sub, id store.ID, b []byte) (delRec, error) {
	bad := func() (delRec, error) {
		return delRec{}, store.Errorf(store.ErrCorrupt, "delivery %s: bad record", id)
	}
	if len(b) < delHeader {
		return bad()
	}
	r := delRec{
		sub:      sub,
		msg:      idOf(b[0:16]),
		created:  int64(binary.BigEndian.Uint64(b[16:])),
		ttl:      int64(binary.BigEndian.Uint64(b[24:])),
		next:     int64(binary.BigEndian.Uint64(b[32:])),
		attempts: binary.BigEndian.Uint32(b[40:]),
		sum:      binary.BigEndian.Uint32(b[44:]),
		failed:   b[48] == 1,
	}
	var ok bool
	rest := b[delHeader:]
	if r.qk, rest, ok = getBytes(rest); !ok {
		return bad()
	}
	if r.lastErr, rest, ok = getBytes(rest); !ok {
		return bad()
	}
	r.body = rest
	return r, nil
}

// record converts r to a store.Delivery, copying the body and verifying
// its checksum (M11). subscriber is the subscription's, as of now.
func (r *delRec) record(id store.ID, subscriber []byte) (store.Delivery, error) {
	if store.Checksum(r.body) != r.sum {
		return store.Delivery{}, store.Errorf(store.ErrCorrupt, "delivery %s: body checksum mismatch", id)
	}
	d := store.Delivery{
		ID:           id,
		Subscription: r.sub,
		Subscriber:   string(subscriber),
		Queue:        refOf(r.qk),
		Message:      r.msg,
		TTL:          time.Duration(r.ttl),
		Attempts:     int(r.attempts),
		NextAttempt:  toTime(r.next),
		Failed:       r.failed,
		LastError:    string(r.lastErr),
		Created:      toTime(r.created),
	}
	if len(r.body) > 0 {
		d.Body = bytes.Clone(r.body)
	}
	return d, nil
}
