package store

import "context"

// Compacter is an optional ability of a Store whose file keeps the space
// freed by deletes (D6): Compact rewrites the store into the smallest file
// that holds what is live and reports the file size in bytes before and
// after. Find it by type assertion:
//
//	if c, ok := st.(store.Compacter); ok {
//		before, after, err := c.Compact(ctx)
//		...
//	}
//
// Compact keeps everything a caller can observe: messages, claims (their
// IDs still work), dedup entries, metadata, counters, and the order of IDs
// issued later (M2). It is safe to call while other goroutines use the
// store, but it is not free: an implementation may copy every live byte and
// hold other calls back while it does, so call it after a drain or at a
// quiet time, not on a hot path. On an error the store either keeps working
// on its old data or, if it cannot, returns ErrClosed or ErrCorrupt from
// then on; it never loses an acknowledged write.
type Compacter interface {
	Compact(ctx context.Context) (before, after int64, err error)
}
