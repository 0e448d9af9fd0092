package chain

import (
	"fmt"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// deliverTx checks a transaction's envelope (chain-id, signature, signer,
// nonce), hands its message to the module that handles it, and, if the
// module accepts it, applies the module's writes and the signer's new
// nonce to c.State. On error c.State is unchanged.
func (a *App) deliverTx(c *module.Context, raw []byte) error {
	tx, msg, err := pb.DecodeTx(raw)
	if err != nil {
		return err
	}
	if tx.ChainId != c.ChainID {
		return fmt.Errorf("%w: signed for %q, this chain is %q", protocol.ErrWrongChain, tx.ChainId, c.ChainID)
	}
	if err := verifySignature(raw, tx); err != nil {
		return err
	}
	signer, err := c.State.Participant(tx.Signer)
	if err != nil {
		return err
	}
	if signer == nil {
		return fmt.Errorf("%w: key %X is not a participant of this chain; ask an admin to add it", protocol.ErrUnknownSigner, tx.Signer)
	}
	if tx.Nonce <= signer.Nonce {
		return fmt.Errorf("%w: nonce %d was already used or is stale; %s's last nonce is %d, sign with a larger one", protocol.ErrBadNonce, tx.Nonce, signer.Name, signer.Nonce)
	}
	if tx.Nonce-signer.Nonce > protocol.MaxNonceGap {
		return fmt.Errorf("%w: nonce %d is more than %d above %s's last nonce %d; sign with %d", protocol.ErrBadNonce, tx.Nonce, protocol.MaxNonceGap, signer.Name, signer.Nonce, signer.Nonce+1)
	}
	m, ok := a.router.byMsg[msg.Kind()]
	if !ok {
		return fmt.Errorf("%w: no module handles %s messages", protocol.ErrDecode, msg.Kind())
	}
	parent := c.State.Store.(*overlay)
	sub := &module.Context{State: module.State{Store: newOverlay(parent)}, Height: c.Height, ChainID: c.ChainID, Check: c.Check, BeforeAggregate: c.BeforeAggregate}
	if err := m.Deliver(sub, signer, msg); err != nil {
		return err
	}
	signer.Nonce = tx.Nonce
	sub.State.Save(module.ParticipantKey(signer.PubKey), signer)
	sub.State.Store.(*overlay).flushInto(parent)
	c.Events = append(c.Events, sub.Events...)
	return nil
}
