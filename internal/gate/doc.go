// Package gate tracks the calls in flight on a herald Service, so that
// Close can refuse new ones and wait for the rest (B3).
package gate
