package fedledgerv1

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
)

// Errors of decoding and verifying a Tx.
var (
	ErrDecode    = errors.New("undecodable transaction")
	ErrSignature = errors.New("bad signature")
)

// SignBytes returns the bytes a signer signs for a transaction.
func SignBytes(chainID string, signer []byte, nonce uint64, body []byte) []byte {
	doc := SignDoc{ChainId: chainID, Signer: signer, Nonce: nonce, Body: body}
	bz, err := doc.Marshal()
	if err != nil {
		panic(fmt.Sprintf("fedledgerv1: marshal sign doc: %v", err)) // cannot fail
	}
	return bz
}

// SignTx builds and signs a transaction carrying msg, and returns its bytes.
func SignTx(key ed25519.PrivateKey, chainID string, nonce uint64, msg *Msg) ([]byte, error) {
	body, err := msg.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal msg: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	tx := Tx{
		ChainId:   chainID,
		Signer:    pub,
		Nonce:     nonce,
		Body:      body,
		Signature: ed25519.Sign(key, SignBytes(chainID, pub, nonce, body)),
	}
	return tx.Marshal()
}

// DecodeTx decodes a transaction and its body, without checking the
// signature. Only the canonical encoding is accepted: bytes that decode
// but are not what encoding the decoded form gives (unknown fields,
// fields out of order, non-minimal varints, defaults written out) are
// refused, so that one transaction has exactly one hash.
func DecodeTx(bz []byte) (*Tx, *Msg, error) {
	// The envelope is read in place: its body, which may carry megabytes,
	// is not copied, and the strict reader is the envelope's canonical
	// check.
	tx, err := ViewTx(bz)
	if err != nil {
		if err := new(Tx).Unmarshal(bz); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrDecode, err)
		}
		return nil, nil, fmt.Errorf("%w: not the canonical encoding of the transaction (%v); sign and encode it with fedledger's encoder", ErrDecode, err)
	}
	var msg Msg
	if err := msg.Unmarshal(tx.Body); err != nil {
		return nil, nil, fmt.Errorf("%w: body: %v", ErrDecode, err)
	}
	if msg.Sum == nil {
		return nil, nil, fmt.Errorf("%w: body holds no message", ErrDecode)
	}
	if !canonical(&msg, tx.Body) {
		return nil, nil, fmt.Errorf("%w: the body is not the canonical encoding of its message", ErrDecode)
	}
	return &tx, &msg, nil
}

// sizedMarshaler is what gogoproto generates for every message.
type sizedMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// canonical reports whether bz is m's canonical encoding. It encodes m
// into a pooled scratch buffer rather than a new one: a transaction may
// carry megabytes, and every validator checks each one twice (CheckTx and
// FinalizeBlock).
func canonical(m sizedMarshaler, bz []byte) bool {
	n := m.Size()
	if n != len(bz) {
		return false
	}
	buf := scratch(n)
	defer putScratch(buf)
	if _, err := m.MarshalToSizedBuffer(buf); err != nil {
		return false
	}
	return bytes.Equal(buf, bz)
}

// scratchPool holds encoding buffers between transactions.
var scratchPool sync.Pool

// scratch returns a buffer of n bytes from the pool (contents undefined).
func scratch(n int) []byte {
	if p, ok := scratchPool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// putScratch returns a buffer to the pool.
func putScratch(b []byte) { scratchPool.Put(&b) }

// VerifySignature checks the transaction's ed25519 signature.
func (m *Tx) VerifySignature() error {
	if len(m.Signer) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: signer key has %d bytes, want %d", ErrSignature, len(m.Signer), ed25519.PublicKeySize)
	}
	if len(m.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature has %d bytes, want %d", ErrSignature, len(m.Signature), ed25519.SignatureSize)
	}
	doc := SignDoc{ChainId: m.ChainId, Signer: m.Signer, Nonce: m.Nonce, Body: m.Body}
	buf := scratch(doc.Size()) // SignBytes, without a new copy of the body
	defer putScratch(buf)
	if _, err := doc.MarshalToSizedBuffer(buf); err != nil || !ed25519.Verify(m.Signer, buf, m.Signature) {
		return fmt.Errorf("%w: does not verify for signer %X", ErrSignature, m.Signer[:4])
	}
	return nil
}

// Kind names the message a Msg carries, for logs and events.
func (m *Msg) Kind() string {
	switch m.Sum.(type) {
	case *Msg_CreateTask:
		return "create_task"
	case *Msg_CommitUpdate:
		return "commit_update"
	case *Msg_RevealUpdate:
		return "reveal_update"
	case *Msg_Reinstate:
		return "reinstate"
	case *Msg_RevealChunk:
		return "reveal_chunk"
	case *Msg_UpdateParams:
		return "update_params"
	case *Msg_AnchorRecords:
		return "anchor_records"
	case *Msg_GrantAccess:
		return "grant_access"
	case *Msg_RevokeGrant:
		return "revoke_grant"
	case *Msg_BreakGlass:
		return "break_glass"
	case *Msg_CloseReview:
		return "close_review"
	case *Msg_LogAccess:
		return "log_access"
	case *Msg_CancelTask:
		return "cancel_task"
	case *Msg_ReportMetrics:
		return "report_metrics"
	}
	return "unknown"
}
