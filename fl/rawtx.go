package fl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cosmos/gogoproto/jsonpb"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// MsgFromJSON decodes a message from its JSON form: proto3 JSON with the
// field names of proto/fedledger/v1/tx.proto, one key naming the kind, as
// in {"update_params": {"max_chunks": "8"}}. Bytes are base64, 64-bit
// numbers strings or numbers. Unknown fields are refused.
func MsgFromJSON(bz []byte) (*pb.Msg, error) {
	var msg pb.Msg
	u := jsonpb.Unmarshaler{}
	if err := u.Unmarshal(bytes.NewReader(bz), &msg); err != nil {
		return nil, fmt.Errorf("message JSON: %w (want one of %s as the top-level key)", err, strings.Join(MsgKinds(), ", "))
	}
	if msg.Sum == nil {
		return nil, fmt.Errorf("message JSON holds no message: want one of %s as the top-level key", strings.Join(MsgKinds(), ", "))
	}
	return &msg, nil
}

// MsgJSON is the JSON form of msg that MsgFromJSON reads.
func MsgJSON(msg *pb.Msg) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := (&jsonpb.Marshaler{OrigName: true}).Marshal(&b, msg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// MsgKinds are the top-level keys of a message's JSON form.
func MsgKinds() []string {
	return []string{"create_task", "commit_update", "reveal_update", "reveal_chunk", "reinstate", "update_params", "cancel_task", "report_metrics",
		"anchor_records", "grant_access", "revoke_grant", "break_glass", "close_review", "log_access"}
}

// TxView is a transaction decoded for people and scripts.
type TxView struct {
	Hash    string          `json:"hash"`
	Bytes   int             `json:"bytes"`
	ChainID string          `json:"chain_id"`
	Signer  string          `json:"signer"`
	Nonce   uint64          `json:"nonce"`
	Kind    string          `json:"kind"`
	Msg     json.RawMessage `json:"msg"`
	// SignatureOK reports whether the signature verifies; Problem says why
	// not.
	SignatureOK bool   `json:"signature_ok"`
	Problem     string `json:"problem,omitempty"`
}

// DecodeTxView decodes a signed transaction as the chain would: bytes
// that are not a canonical transaction are an error (protocol.ErrDecode's
// code), a bad signature is reported in the view.
func DecodeTxView(bz []byte) (*TxView, error) {
	tx, msg, err := pb.DecodeTx(bz)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(bz)
	v := &TxView{
		Hash: strings.ToUpper(hex.EncodeToString(h[:])), Bytes: len(bz), ChainID: tx.ChainId,
		Signer: hex.EncodeToString(tx.Signer), Nonce: tx.Nonce, Kind: msg.Kind(), SignatureOK: true,
	}
	if v.Msg, err = MsgJSON(msg); err != nil {
		return nil, err
	}
	if err := tx.VerifySignature(); err != nil {
		v.SignatureOK, v.Problem = false, err.Error()
	}
	return v, nil
}

// SignMsg signs msg as the client's key with nonce, or with the next
// nonce the chain expects from the key when nonce is 0. It returns the
// transaction's bytes; nothing is sent.
func (c *Client) SignMsg(msg *pb.Msg, nonce uint64) ([]byte, error) {
	if c.key == nil {
		return nil, fmt.Errorf("fl: a read-only client cannot sign; give it a key")
	}
	if nonce == 0 {
		c.mu.Lock()
		nonce = c.nonce + 1
		c.mu.Unlock()
	}
	return pb.SignTx(c.key, c.chainID, nonce, msg)
}

// Broadcast sends a signed transaction exactly as given and waits until a
// block includes it. A tx that CheckTx refuses, or that its block executes
// with an error, returns an error wrapping the chain's sentinel (see
// protocol.ErrorOf); ctx bounds the wait.
func (c *Client) Broadcast(ctx context.Context, tx []byte) (*Included, error) {
	h := sha256.Sum256(tx)
	if res, err := c.rpc.Tx(ctx, h[:], false); err == nil {
		return c.included(res, 0)
	}
	var res, err = c.rpc.BroadcastTxSync(ctx, tx)
	for attempt := 1; err != nil && !strings.Contains(err.Error(), "already exists in cache"); attempt++ {
		if attempt >= c.MaxAttempts || ctx.Err() != nil {
			return nil, c.unavailable("broadcast: %v", err)
		}
		if err := sleep(ctx, c.ResendAfter/4); err != nil {
			return nil, err
		}
		res, err = c.rpc.BroadcastTxSync(ctx, tx)
	}
	if err == nil && res.Code != protocol.CodeOK {
		return nil, fmt.Errorf("fl: tx %X refused: %w", h[:6], protocol.ErrorOf(res.Code, res.Log))
	}
	for {
		if res, err := c.rpc.Tx(ctx, h[:], false); err == nil {
			return c.included(res, 0)
		}
		if err := sleep(ctx, c.PollInterval); err != nil {
			return nil, fmt.Errorf("%w: tx %X not included yet: %v", ErrUnavailable, h[:6], err)
		}
	}
}
