// Package wake lets a herald Service's blocked claimers sleep until their
// queue may have something for them, and wakes only as many of them as can
// take what became claimable, oldest first (C7). Its behaviour is proven
// through the root package's blocking-claim tests (claim_wait_test.go,
// claim_wake_test.go, claim_wake_random_test.go).
package wake
