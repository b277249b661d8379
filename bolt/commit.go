package bolt

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// Group commit (D2). A store starts no goroutines, so batching is led by
// callers: a write op joins the pending list, and if no commit is running
// its caller becomes the leader. The leader takes every pending op, runs
// them in one bbolt Update (each sees the writes of those before it),
// commits — one fsync pair for the whole batch — and hands each op its
// result. If more ops arrived meanwhile, it wakes the first of them to lead
// the next batch. A lone caller commits at once: there is no timer.
//
// One failing op fails alone: its error rolls the Update back, it gets its
// error, and the others run again in a fresh Update, so partial writes of a
// failed op never commit.

// op is one write waiting for a commit.
type op struct {
	fn  func(w *wtx) error
	err error
	// wake gets sigDone when the op's result is in err, or sigLead when its
	// caller must lead the next batch.
	wake chan signal
}

type signal uint8

const (
	sigDone signal = iota + 1
	sigLead
)

// committer batches write ops into shared transactions.
type committer struct {
	s       *Store
	mu      sync.Mutex
	pending []*op
	running bool
	closed  bool
	// last is the size of the last batch taken.
	last int
	// commits and ops count successful Updates and the ops they carried,
	// for tests and benchmarks that show batching; catchUps counts the
	// ops among them that only caught a queue up (catchup.go).
	commits, ops, catchUps uint64
	// hook, if set (by tests only), runs in the leader before each batch
	// with the batch's size.
	hook func(n int)
	// dueHook, if set (by tests only), runs in the leader after each
	// successful Update with the number of due items its ops applied from
	// the transaction's catch-up budget (Sweep keeps its own).
	dueHook func(applied int)

	// gen counts write transactions that may have changed the file: the
	// committer's Updates and PostTx commits. It moves after the commit,
	// so a read that starts after loading gen sees at least that state.
	gen atomic.Uint64
	// idleMu guards idle, the queues last found idle (see idleMark).
	idleMu sync.Mutex
	idle   map[string]idleMark
}

// An idleMark records that a read found a queue with nothing free and
// nothing due before until, when gen was gen: until gen moves (a commit) or
// now reaches until (a claim ends, a delay ends, a message expires), a
// claim or pop of that queue would find nothing and change nothing, so it
// is answered without a transaction. Consumers polling an idle queue then
// cost an atomic load, not a read transaction each, and leave the CPU to
// the commit leader. next is the NextReady to report.
type idleMark struct {
	gen, until, next int64
}

// maxIdleMarks bounds the idle map; it is emptied when full.
const maxIdleMarks = 4096

// idleAt reports the mark of queue key if it still holds at now.
func (c *committer) idleAt(key string, now int64) (idleMark, bool) {
	c.idleMu.Lock()
	m, ok := c.idle[key]
	c.idleMu.Unlock()
	if !ok || uint64(m.gen) != c.gen.Load() || now >= m.until {
		return idleMark{}, false
	}
	return m, true
}

// markIdle records m for queue key.
func (c *committer) markIdle(key string, m idleMark) {
	c.idleMu.Lock()
	if c.idle == nil || len(c.idle) >= maxIdleMarks {
		c.idle = make(map[string]idleMark)
	}
	c.idle[key] = m
	c.idleMu.Unlock()
}

// errRollback aborts an Update after an op failed; the op's own error is
// reported to it.
var errRollback = errors.New("herald: rollback")

// update runs fn as one write op, sharing a commit with concurrent callers,
// and returns once the commit is durable. When fn finds its queue behind
// (more due than one transaction may apply, catchup.go), update catches
// the queue up in bounded commits and runs fn again.
func (s *Store) update(ctx context.Context, fn func(w *wtx) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closed.Load() {
			return errClosed()
		}
		err := s.commit.run(&op{fn: fn, wake: make(chan signal, 1)})
		var behind *behindError
		if !errors.As(err, &behind) {
			return err
		}
		if err := s.catchUp(ctx, behind.ref, behind.now); err != nil {
			return err
		}
	}
}

func (c *committer) run(o *op) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed()
	}
	c.pending = append(c.pending, o)
	if c.running {
		c.mu.Unlock()
		if <-o.wake == sigDone {
			return o.err
		}
		// Leadership was handed to this op: it is still pending. The
		// callers the last batch just answered are about to submit again;
		// yielding once lets them join this batch rather than the next.
		// This is a scheduler yield, not a timer: a lone caller never
		// gets here.
		runtime.Gosched()
		c.mu.Lock()
	} else if c.last > 1 {
		// The last batch was shared, so its callers are likely about to
		// come back; yield once so they join this batch. A lone caller
		// (last batch of one) commits at once.
		c.running = true
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
	}
	c.running = true
	batch := c.pending
	c.last = len(batch)
	c.pending = nil
	c.mu.Unlock()

	if c.hook != nil {
		c.hook(len(batch))
	}
	c.commitBatch(batch)

	// Deliver results before handing over: the callers woken here often
	// post again at once, and while this leader still holds the commit
	// their ops queue up for the next batch instead of each leading a
	// batch of one.
	for _, b := range batch {
		if b != o {
			b.wake <- sigDone
		}
	}
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.pending[0].wake <- sigLead
	} else {
		c.running = false
	}
	c.mu.Unlock()
	return o.err
}

// close refuses later ops; ops already pending still run.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// commitBatch runs ops in one Update, setting each op's err. When an op
// fails, the Update rolls back and the rest run again without it.
func (c *committer) commitBatch(ops []*op) {
	for len(ops) > 0 {
		failed, applied := -1, 0
		var aside []asideBatch
		err := c.s.writeTx(func(tx *bbolt.Tx) error {
			w := c.s.newWtx(tx)
			for i, o := range ops {
				if err := w.runOp(o.fn); err != nil {
					o.err, failed = err, i
					return errRollback
				}
			}
			applied, aside = w.applied, w.aside
			return w.finish()
		})
		if failed >= 0 {
			ops = append(ops[:failed:failed], ops[failed+1:]...)
			continue
		}
		err = c.s.commitError(err)
		c.s.noteWrite(err)
		c.gen.Add(1)
		if err == nil {
			c.mu.Lock()
			c.commits++
			c.ops += uint64(len(ops))
			c.mu.Unlock()
			if c.dueHook != nil {
				c.dueHook(applied)
			}
			c.s.reportAside(aside)
		}
		for _, o := range ops {
			o.err = err
		}
		return
	}
}

// writeTx runs fn in db.Update under guard: a panic is ErrCorrupt.
func (s *Store) writeTx(fn func(tx *bbolt.Tx) error) error {
	return s.guard(func() error { return txError(s.db.Update(fn)) })
}

// commitStats returns how many write transactions the group committer has
// committed and how many ops they carried.
func (s *Store) commitStats() (commits, ops uint64) {
	s.commit.mu.Lock()
	defer s.commit.mu.Unlock()
	return s.commit.commits, s.commit.ops
}
