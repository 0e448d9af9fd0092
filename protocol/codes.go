package protocol

import (
	"errors"
	"fmt"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Codespace is the codespace of every non-zero result code of the app.
const Codespace = "fedledger"

// Result codes of CheckTx, FinalizeBlock and Query. Each names one reason
// a transaction or query is refused; 0 means accepted. Codes never change
// meaning; packages compare codes (or the sentinels below), never text.
const (
	CodeOK             uint32 = 0
	CodeDecode         uint32 = 1  // bytes are not a fedledger transaction
	CodeWrongChain     uint32 = 2  // signed for another chain-id
	CodeBadSignature   uint32 = 3  // signature does not verify
	CodeUnknownSigner  uint32 = 4  // signer is not a participant
	CodeBadNonce       uint32 = 5  // nonce replayed or not above the last one
	CodeUnauthorized   uint32 = 6  // signer's role may not send this message
	CodeInvalidMsg     uint32 = 7  // a field of the message is invalid
	CodeUnknownTask    uint32 = 8  // no such task
	CodeRoundClosed    uint32 = 9  // round or window no longer open
	CodeWrongPhase     uint32 = 10 // round not yet in the phase the message needs
	CodeNotInvited     uint32 = 11 // hospital not invited to the task
	CodeDuplicate      uint32 = 12 // already committed or revealed this round
	CodeNoCommitment   uint32 = 13 // reveal without a commitment
	CodeHashMismatch   uint32 = 14 // reveal does not match its commitment
	CodeBadShape       uint32 = 15 // update of the wrong shape or scale
	CodeOverLimit      uint32 = 16 // over a consensus parameter (protocol.Params) of the chain
	CodeCopied         uint32 = 17 // reveal against a commitment copied from another hospital
	CodeUnknownGrantee uint32 = 18 // records: grantee, agent or holder is not a participant of the role needed
	CodeNoGrant        uint32 = 19 // records: no such grant or review item
	CodeGrantInactive  uint32 = 20 // records: grant revoked or expired, review closed, or not this one's
	CodeInternal       uint32 = 99 // the app failed; a bug, not the sender's fault
	CodeUnknownQuery   uint32 = 100
	CodeNotFound       uint32 = 101 // query: nothing at that path
	CodeBadQuery       uint32 = 102
)

// Sentinel errors, one per result code. The app wraps them with detail;
// ErrorOf turns a code back into its sentinel on the client side.
var (
	ErrDecode         = pb.ErrDecode
	ErrWrongChain     = errors.New("wrong chain-id")
	ErrBadSignature   = pb.ErrSignature
	ErrUnknownSigner  = errors.New("unknown signer")
	ErrBadNonce       = errors.New("bad nonce")
	ErrUnauthorized   = errors.New("unauthorized")
	ErrInvalidMsg     = errors.New("invalid message")
	ErrUnknownTask    = errors.New("unknown task")
	ErrRoundClosed    = errors.New("round closed")
	ErrWrongPhase     = errors.New("wrong phase")
	ErrNotInvited     = errors.New("not invited")
	ErrDuplicate      = errors.New("duplicate submission")
	ErrNoCommitment   = errors.New("no commitment")
	ErrHashMismatch   = errors.New("hash mismatch")
	ErrBadShape       = errors.New("bad update shape")
	ErrOverLimit      = errors.New("over the chain's limit")
	ErrCopied         = errors.New("copied commitment")
	ErrUnknownGrantee = errors.New("unknown grantee")
	ErrNoGrant        = errors.New("no such grant")
	ErrGrantInactive  = errors.New("grant not in force")
	ErrInternal       = errors.New("internal error")
	ErrUnknownQuery   = errors.New("unknown query path")
	ErrNotFound       = errors.New("not found")
	ErrBadQuery       = errors.New("bad query")
)

var codeOf = []struct {
	err  error
	code uint32
}{
	{ErrDecode, CodeDecode},
	{ErrWrongChain, CodeWrongChain},
	{ErrBadSignature, CodeBadSignature},
	{ErrUnknownSigner, CodeUnknownSigner},
	{ErrBadNonce, CodeBadNonce},
	{ErrUnauthorized, CodeUnauthorized},
	{ErrInvalidMsg, CodeInvalidMsg},
	{ErrUnknownTask, CodeUnknownTask},
	{ErrRoundClosed, CodeRoundClosed},
	{ErrWrongPhase, CodeWrongPhase},
	{ErrNotInvited, CodeNotInvited},
	{ErrDuplicate, CodeDuplicate},
	{ErrNoCommitment, CodeNoCommitment},
	{ErrHashMismatch, CodeHashMismatch},
	{ErrBadShape, CodeBadShape},
	{ErrOverLimit, CodeOverLimit},
	{ErrCopied, CodeCopied},
	{ErrUnknownGrantee, CodeUnknownGrantee},
	{ErrNoGrant, CodeNoGrant},
	{ErrGrantInactive, CodeGrantInactive},
	{ErrUnknownQuery, CodeUnknownQuery},
	{ErrNotFound, CodeNotFound},
	{ErrBadQuery, CodeBadQuery},
}

// CodeOf returns the result code for an error the app returned.
func CodeOf(err error) uint32 {
	if err == nil {
		return CodeOK
	}
	for _, c := range codeOf {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// ErrorOf turns a result code and log back into an error that wraps the
// code's sentinel, for clients that read CheckTx, FinalizeBlock or Query
// results.
func ErrorOf(code uint32, log string) error {
	if code == CodeOK {
		return nil
	}
	for _, c := range codeOf {
		if c.code == code {
			return fmt.Errorf("%w (code %d): %s", c.err, code, log)
		}
	}
	return fmt.Errorf("%w (code %d): %s", ErrInternal, code, log)
}
