// Package sched wakes a herald Service's blocked claimers when a claim
// expires or a delay ends (B2).
package sched
