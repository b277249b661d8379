//go:build unix

package main

import "syscall"

// fdLimit returns the process's open-file limit (the soft one, which Go
// raises to the hard one at start), or 0 if it cannot tell or there is
// none.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur >= 1<<62 {
		return 0
	}
	return r.Cur
}
