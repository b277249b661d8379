// Package load drives a Zaqar v2 HTTP endpoint with the throughput shape
// of herald's benchmarks: producers posting single messages, consumers
// claiming batches and deleting each batch with one bulk DELETE. It is
// used by cmd/heraldload against a running server and by httpapi's
// benchmark against an in-process one.
package load

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options shape a run. Zero fields take the defaults in their comments.
type Options struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8888. Required.
	URL string
	// Queue is the queue to use. Empty means "load".
	Queue string
	// Project is the X-Project-ID. Empty means "load".
	Project string
	// Token, if set, is sent as X-Auth-Token on every request, for a
	// server that wants one (heraldd --auth token). Empty sends none.
	Token string
	// Producers and Consumers run concurrently. Zero means 4 each.
	Producers, Consumers int
	// Messages is how many to post and then delete, a multiple of
	// PostBatch. Zero means 10,000.
	Messages int
	// BodySize is each body's size in bytes (a JSON string). Zero means 256.
	BodySize int
	// Batch is the claim limit. Zero means 10.
	Batch int
	// PostBatch is how many messages one POST carries. Zero means 1.
	PostBatch int
	// Report, if set, is called with the counts so far about every
	// ReportEvery while the run goes on, and once more with the final
	// counts before Run returns (latencies are in Run's Result only). It
	// runs on a goroutine of its own, one call at a time. Nil reports
	// nothing.
	Report func(Result)
	// ReportEvery is the interval between reports. Zero means 1 s.
	ReportEvery time.Duration
}

// Result is what a run did.
type Result struct {
	Posted, Deleted int64
	Elapsed         time.Duration
	// Requests counts HTTP requests by kind.
	Posts, Claims, EmptyClaims, Deletes int64
	// Latency of each kind of request, from writing it to reading its
	// whole answer; claims include the empty ones.
	PostLatency, ClaimLatency, DeleteLatency Latencies
}

// Latencies summarises the latencies of a kind of request. Zero when none
// was answered.
type Latencies struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func (l Latencies) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  max %v", r(l.P50), r(l.P90), r(l.P99), r(l.Max))
}

// summarize sorts ds and returns their percentiles (nearest rank).
func summarize(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(p int) time.Duration { return ds[(len(ds)*p+99)/100-1] }
	return Latencies{N: len(ds), P50: at(50), P90: at(90), P99: at(99), Max: ds[len(ds)-1]}
}

// timings are one worker's request latencies, merged when the run ends.
type timings struct{ post, claim, del []time.Duration }

// timed runs one request and appends its latency to *to.
func timed(to *[]time.Duration, f func() error) error {
	start := time.Now()
	err := f()
	if err == nil {
		*to = append(*to, time.Since(start))
	}
	return err
}

// Rate is messages moved end to end per second.
func (r Result) Rate() float64 { return float64(r.Deleted) / r.Elapsed.Seconds() }

// Run posts o.Messages and returns once consumers have deleted them all.
// Every producer and consumer keeps one connection of its own (o.URL must
// be plain http://).
func Run(ctx context.Context, o Options) (Result, error) {
	o, err := withDefaults(o)
	if err != nil {
		return Result{}, err
	}
	t, err := newTarget(o)
	if err != nil {
		return Result{}, err
	}
	setup := t.conn(ctx)
	err = setup.do(http.MethodPut, "", nil, nil)
	setup.close()
	if err != nil {
		return Result{}, fmt.Errorf("create queue: %w", err)
	}
	msgs := make([]any, o.PostBatch)
	for i := range msgs {
		msgs[i] = map[string]any{"ttl": 3600, "body": strings.Repeat("x", o.BodySize-2)}
	}
	body, _ := json.Marshal(map[string]any{"messages": msgs})
	var res Result
	var posted, deleted atomic.Int64
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, o.Producers+o.Consumers)
	times := make([]timings, o.Producers+o.Consumers)
	start := time.Now()
	snapshot := func() Result {
		return Result{
			Posted: min(posted.Load(), int64(o.Messages)), Deleted: deleted.Load(), Elapsed: time.Since(start),
			Posts: atomic.LoadInt64(&res.Posts), Claims: atomic.LoadInt64(&res.Claims),
			EmptyClaims: atomic.LoadInt64(&res.EmptyClaims), Deletes: atomic.LoadInt64(&res.Deletes),
		}
	}
	stopReports := report(o, snapshot)
	var wg sync.WaitGroup
	for i := range o.Producers {
		tm := &times[i]
		wg.Go(func() {
			c := t.conn(ctx)
			defer c.close()
			for posted.Add(int64(o.PostBatch)) <= int64(o.Messages) {
				if err := timed(&tm.post, func() error { return c.do(http.MethodPost, "/messages", body, nil) }); err != nil {
					errs <- fmt.Errorf("post: %w", err)
					cancel()
					return
				}
				atomic.AddInt64(&res.Posts, 1)
			}
		})
	}
	for i := range o.Consumers {
		tm := &times[o.Producers+i]
		wg.Go(func() {
			c := t.conn(ctx)
			defer c.close()
			idle := time.Duration(0)
			for deleted.Load() < int64(o.Messages) {
				var ids []string
				err := timed(&tm.claim, func() (err error) { ids, err = claim(c, o.Batch); return err })
				if err != nil {
					errs <- fmt.Errorf("claim: %w", err)
					cancel()
					return
				}
				atomic.AddInt64(&res.Claims, 1)
				if len(ids) == 0 {
					// Zaqar's API has no blocking claim: poll, backing off
					// so idle consumers leave the CPU to the producers.
					atomic.AddInt64(&res.EmptyClaims, 1)
					idle = min(max(2*idle, 500*time.Microsecond), 20*time.Millisecond)
					if !pause(ctx, idle) {
						return
					}
					continue
				}
				idle = 0
				if err := timed(&tm.del, func() error { return c.do(http.MethodDelete, "/messages?ids="+idList(ids), nil, nil) }); err != nil {
					errs <- fmt.Errorf("delete: %w", err)
					cancel()
					return
				}
				atomic.AddInt64(&res.Deletes, 1)
				deleted.Add(int64(len(ids)))
			}
		})
	}
	wg.Wait()
	stopReports()
	res.Elapsed = time.Since(start)
	res.Posted, res.Deleted = min(posted.Load(), int64(o.Messages)), deleted.Load()
	var all timings
	for _, tm := range times {
		all.post, all.claim, all.del = append(all.post, tm.post...), append(all.claim, tm.claim...), append(all.del, tm.del...)
	}
	res.PostLatency, res.ClaimLatency, res.DeleteLatency = summarize(all.post), summarize(all.claim), summarize(all.del)
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	if res.Deleted < int64(o.Messages) {
		// Stopped by parent before the end: consumers waiting out a
		// backoff return without an error of their own.
		return res, parent.Err()
	}
	return res, nil
}

// report calls o.Report every o.ReportEvery with snapshot() until the
// returned stop is called, which makes the last call and waits for it.
func report(o Options, snapshot func() Result) (stop func()) {
	if o.Report == nil {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(o.ReportEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				o.Report(snapshot())
			case <-done:
				o.Report(snapshot())
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// pause waits d and reports true, or reports false once ctx ends first.
// Tests replace it.
var pause = func(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// idList is ids as the value of a query parameter: escaped, so that ids
// from the server cannot break the request line.
func idList(ids []string) string {
	esc := make([]string, len(ids))
	for i, id := range ids {
		esc[i] = url.QueryEscape(id)
	}
	return strings.Join(esc, ",")
}

// withDefaults fills in zero fields and refuses options a run could not
// finish with.
func withDefaults(o Options) (Options, error) {
	if o.Queue == "" {
		o.Queue = "load"
	}
	if o.Project == "" {
		o.Project = "load"
	}
	if o.Producers == 0 {
		o.Producers = 4
	}
	if o.Consumers == 0 {
		o.Consumers = 4
	}
	if o.Messages == 0 {
		o.Messages = 10_000
	}
	if o.BodySize < 2 {
		o.BodySize = 256
	}
	if o.Batch == 0 {
		o.Batch = 10
	}
	if o.PostBatch == 0 {
		o.PostBatch = 1
	}
	if o.ReportEvery == 0 {
		o.ReportEvery = time.Second
	}
	switch {
	case o.Producers < 0 || o.Consumers < 0 || o.Messages < 0 || o.Batch < 0 || o.PostBatch < 0 || o.ReportEvery < 0:
		return o, errors.New("load: counts must not be negative")
	case o.Messages%o.PostBatch != 0:
		// Producers post whole batches only; consumers would wait forever
		// for the rest.
		return o, fmt.Errorf("load: %d messages is not a multiple of %d per POST", o.Messages, o.PostBatch)
	}
	return o, nil
}

// claim takes up to limit messages with a blocking-free claim and returns
// their ids; a 204 (nothing to claim) returns none.
func claim(c *conn, limit int) ([]string, error) {
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	body := []byte(`{"ttl": 60, "grace": 60}`)
	if err := c.do(http.MethodPost, "/claims?limit="+strconv.Itoa(limit), body, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		ids[i] = m.ID
	}
	return ids, nil
}

// uuid returns a random version-4 UUID, the Client-ID Zaqar wants.
func uuid() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.Join(errors.New("load: no randomness"), err))
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
