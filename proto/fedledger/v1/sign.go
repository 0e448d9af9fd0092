package fedledgerv1

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
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
	var tx Tx
	if err := tx.Unmarshal(bz); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	var msg Msg
	if err := msg.Unmarshal(tx.Body); err != nil {
		return nil, nil, fmt.Errorf("%w: body: %v", ErrDecode, err)
	}
	if msg.Sum == nil {
		return nil, nil, fmt.Errorf("%w: body holds no message", ErrDecode)
	}
	if canon, err := tx.Marshal(); err != nil || !bytes.Equal(canon, bz) {
		return nil, nil, fmt.Errorf("%w: not the canonical encoding of the transaction (%d bytes, canonical %d); sign and encode it with fedledger's encoder", ErrDecode, len(bz), len(canon))
	}
	if canon, err := msg.Marshal(); err != nil || !bytes.Equal(canon, tx.Body) {
		return nil, nil, fmt.Errorf("%w: the body is not the canonical encoding of its message", ErrDecode)
	}
	return &tx, &msg, nil
}

// VerifySignature checks the transaction's ed25519 signature.
func (m *Tx) VerifySignature() error {
	if len(m.Signer) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: signer key has %d bytes, want %d", ErrSignature, len(m.Signer), ed25519.PublicKeySize)
	}
	if len(m.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature has %d bytes, want %d", ErrSignature, len(m.Signature), ed25519.SignatureSize)
	}
	if !ed25519.Verify(m.Signer, SignBytes(m.ChainId, m.Signer, m.Nonce, m.Body), m.Signature) {
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
	}
	return "unknown"
}
