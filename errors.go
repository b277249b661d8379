package herald

import "github.com/heraldmq/herald/store"

// Sentinel errors, matched with errors.Is. Every error herald returns for
// bad input matches ErrInvalid and, where one fits, a more specific child
// (a nil handler or func, or a malformed subscriber, has none), and says
// which value was wrong. See package store for each one's meaning.
var (
	ErrInvalid         = store.ErrInvalid
	ErrInvalidName     = store.ErrInvalidName
	ErrInvalidTTL      = store.ErrInvalidTTL
	ErrInvalidDelay    = store.ErrInvalidDelay
	ErrInvalidLimit    = store.ErrInvalidLimit
	ErrInvalidID       = store.ErrInvalidID
	ErrInvalidMetadata = store.ErrInvalidMetadata
	ErrTooLarge        = store.ErrTooLarge
	ErrDeniedTarget    = store.ErrDeniedTarget

	ErrNotFound      = store.ErrNotFound
	ErrClaimNotFound = store.ErrClaimNotFound
	ErrClaimMismatch = store.ErrClaimMismatch
	ErrNotClaimed    = store.ErrNotClaimed
	ErrMessageGone   = store.ErrMessageGone
	ErrClosed        = store.ErrClosed
	ErrCorrupt       = store.ErrCorrupt
	ErrLocked        = store.ErrLocked
	ErrConflict      = store.ErrConflict
	ErrPoolInUse     = store.ErrPoolInUse
	ErrCrossPool     = store.ErrCrossPool
	ErrNoPool        = store.ErrNoPool
	ErrUnavailable   = store.ErrUnavailable
	ErrTooMany       = store.ErrTooMany
)
