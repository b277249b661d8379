// Package netguard decides which webhook targets herald may reach (S6):
// which addresses are public, how the HTTP client dials so that the check
// runs on the address actually dialled, how a URL's host is read in every
// form a resolver accepts, and which post_headers may go on the wire (S7).
package netguard
