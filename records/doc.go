// Package records is the hospital side of tamper-evident medical records:
// an encrypted record store, the leaves it anchors on chain, a record
// server that serves a record only under a grant the chain holds (or a
// declared break-glass), encrypted end to end to the reader, and logs
// every read it served; and the checks a reader or reviewer runs.
//
// A record is any file or a FHIR JSON resource or bundle. Its canonical
// bytes (JSON: keys sorted, no insignificant space, numbers as written;
// other files: as they are) are encrypted at rest under a key of the
// record's own, which is itself sealed under the store's master key. The
// chain sees one 32-byte leaf per record version: HMAC-SHA256 of the
// canonical bytes under a key derived from the record's key, so the leaf
// says nothing of the content and no one without the key can test a guess.
// Erasing a record destroys its key and content; its leaf stays in the log,
// so the log's proofs still verify, and the content is gone.
//
// Names a reader and the chain share: a record's reference is
// SHA-256("fedledger/record-ref/v1", holder's key, record id), so record
// ids must not carry identifiers; a patient's pseudonym is HMAC-SHA256 of
// the patient id under the hospital's master key.
package records
