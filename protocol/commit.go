package protocol

import (
	"crypto/sha256"
	"encoding/binary"
)

// SaltSize is the size of a commitment's secret salt.
const SaltSize = 32

// commitDomain separates commitments from every other SHA-256 use.
const commitDomain = "fedledger/commit/v1"

// Commitment is the update_hash a CommitUpdate must carry: SHA-256 of a
// domain tag and the length-prefixed chain-id, task, round, signer key and
// salt, followed by SHA-256 of the encoded update. It binds the update to
// the one key that committed it: another hospital that copies the hash,
// or later the revealed update, can never reveal it as its own, and the
// salt keeps the commitment from telling anything about the update.
func Commitment(chainID string, task uint64, round uint32, signer, salt, updateSHA256 []byte) []byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(commitDomain))
	field([]byte(chainID))
	h.Write(binary.BigEndian.AppendUint64(nil, task))
	h.Write(binary.BigEndian.AppendUint32(nil, round))
	field(signer)
	field(salt)
	field(updateSHA256)
	return h.Sum(nil)
}

// UpdateCommitment is Commitment over an encoded update.
func UpdateCommitment(chainID string, task uint64, round uint32, signer, salt, update []byte) []byte {
	u := sha256.Sum256(update)
	return Commitment(chainID, task, round, signer, salt, u[:])
}
