package store

import (
	"errors"
	"fmt"
	"syscall"
)

// unavailable is an ErrUnavailable error with its cause.
type unavailable struct {
	msg   string
	cause error
}

func (u *unavailable) Error() string   { return "herald: " + u.msg + ": " + u.cause.Error() }
func (u *unavailable) Unwrap() []error { return []error{ErrUnavailable, u.cause} }

// Unavailable returns an error that reads "herald: " + the formatted text
// + ": " + cause and matches both ErrUnavailable and cause under
// errors.Is. Backends wrap the storage failures they cannot get past
// (a full disk, an I/O error, a database that is down) with it.
func Unavailable(cause error, format string, args ...any) error {
	return &unavailable{msg: fmt.Sprintf(format, args...), cause: cause}
}

// UnavailableReason names, in a few words fit for a client (no paths, no
// internals), the kind of failure of an ErrUnavailable error: "disk
// full", "disk quota exceeded", "read-only storage", "I/O error", or
// "storage unavailable" for any other.
func UnavailableReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "disk full"
	case errors.Is(err, syscall.EDQUOT):
		return "disk quota exceeded"
	case errors.Is(err, syscall.EROFS):
		return "read-only storage"
	case errors.Is(err, syscall.EIO):
		return "I/O error"
	}
	return "storage unavailable"
}

// WriteWatcher is the optional ability of a Store to say whether its
// writes reach storage, so that a service can report a store that fails
// every write (ErrUnavailable) while its reads still answer. Find it by
// type assertion.
type WriteWatcher interface {
	// OnWrite makes the store call fn after each attempt to make writes
	// durable: with nil when it succeeded, or with its ErrUnavailable
	// error. Bad input and other refusals are not reported. fn runs on the
	// goroutine of some call into the store, must be quick and must not
	// call the store. Nil turns it off.
	OnWrite(fn func(err error))
}
