package store

import "time"

// Fallbacks a store uses when the caller leaves a value zero.
const (
	DefaultMessageTTL  = time.Hour
	DefaultDedupWindow = 5 * time.Minute
)
