package records

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// Ref is the reference of record id held by holder: what grants of one
// record and access events name.
func Ref(holder []byte, id string) []byte {
	h := sha256.New()
	h.Write([]byte("fedledger/record-ref/v1\x00"))
	h.Write(holder)
	h.Write([]byte(id))
	return h.Sum(nil)
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		m.Write(p)
	}
	return m.Sum(nil)
}

// Pseudonym is a patient's pseudonym under a hospital's master key.
func Pseudonym(master []byte, patient string) []byte {
	return mac(master, []byte("fedledger/patient/v1"), []byte(patient))
}

// LeafKey is the key a record's leaf is an HMAC under, derived from the
// record's own key. A reader given a record is given its leaf key too, so
// that it can check the record against the chain.
func LeafKey(recordKey []byte) []byte { return mac(recordKey, []byte("fedledger/leaf-key/v1")) }

func contentKey(recordKey []byte) []byte { return mac(recordKey, []byte("fedledger/content-key/v1")) }

// Leaf is the leaf of version of record id with canonical bytes content.
func Leaf(leafKey []byte, id string, version uint64, content []byte) []byte {
	return mac(leafKey, []byte("fedledger/record/v1"), []byte(id), binary.BigEndian.AppendUint64(nil, version), content)
}
