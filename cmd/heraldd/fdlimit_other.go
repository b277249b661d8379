//go:build !unix

package main

// fdLimit returns 0: the open-file limit is not known here.
func fdLimit() uint64 { return 0 }
