// Package records is the on-chain module of tamper-evident medical
// records: per hospital, an append-only Merkle log of keyed record hashes
// (never patient data), consent grants and access events.
//
// This is the module's skeleton, registered with the app so that its
// state prefix, genesis section and query path are reserved and routed:
// it has no messages yet, so every log is empty. Its messages (append,
// grant, revoke, break-glass, access event) come with the records issue.
//
// State (prefix owned by this module):
//
//	l/<hospital pubkey>   the hospital's log head: size and root
//
// Queries: /records/{hex hospital key}, the log head, proved.
package records
