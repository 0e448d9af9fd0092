// Package records is the on-chain module of tamper-evident medical
// records: per hospital, an append-only Merkle log of keyed record hashes
// (never patient data), consent grants, break-glass review items and a
// second log of the reads the hospital's record server served.
//
// Messages:
//
//	anchor_records  a hospital appends leaves (HMAC-SHA256 of a record's
//	                canonical bytes under a per-record key it keeps)
//	grant_access    a hospital lets a participant read records in a scope
//	                (one record, a patient pseudonym, a dataset) for a
//	                purpose (care, research, audit) until a height
//	revoke_grant    the grantor or an admin ends a grant; it holds for no
//	                block from the revoking one on
//	break_glass     a care role (hospital) declares an emergency read of
//	                one record, with a reason; opens a review item
//	close_review    an admin or reviewer closes a review item with a note
//	log_access      a record server logs the reads it served, each checked
//	                against the grant or review it names, as of its height
//
// The logs are RFC 6962 trees built with transparency-dev/merkle. Each
// log's head (size, root, compact range) is a state record the app hash
// covers, so a header that CometBFT's light client verified is a signed
// checkpoint of every log; the trees' nodes are side keys (see
// module.SideKey) that the roots authenticate, read back as inclusion
// and consistency proofs. Query paths: see protocol.PathRecords.
//
// State (prefixes owned by this module): l/ record logs, a/ access logs,
// x/ access events (side), g/ grants, v/ reviews, k/ id counters.
package records
