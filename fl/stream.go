package fl

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Sent is a tx that Send broadcast, for Await.
type Sent struct {
	Msg   *pb.Msg
	Hash  []byte
	Nonce uint64
	At    time.Time
}

// Send signs msg with the next nonce and broadcasts it without waiting for
// a block, so that one client keeps a stream of txs in flight, in nonce
// order (a gateway anchoring every fraction of a second does). A tx that
// CheckTx refuses is an error and uses no nonce. Await each Sent.
func (c *Client) Send(ctx context.Context, msg *pb.Msg) (*Sent, error) {
	if c.key == nil {
		return nil, errors.New("fl: a read-only client cannot submit; give it a key")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nonce := c.nonce + 1
	bz, err := pb.SignTx(c.key, c.chainID, nonce, msg)
	if err != nil {
		return nil, err
	}
	res, err := c.rpc.BroadcastTxSync(ctx, bz)
	if err != nil {
		if c.onFailure != nil {
			c.onFailure()
		}
		return nil, c.unavailable("broadcast %s: %v", msg.Kind(), err)
	}
	if res.Code != protocol.CodeOK {
		if res.Code == protocol.CodeBadNonce {
			// Take the chain's nonce for the next Send.
			var p pb.Participant
			if _, qerr := c.Query(ctx, protocol.ParticipantPath(c.PubKey()), &p); qerr == nil {
				c.nonce = max(c.nonce, p.Nonce)
			}
		}
		return nil, protocol.ErrorOf(res.Code, res.Log)
	}
	c.nonce = nonce
	h := sha256.Sum256(bz)
	return &Sent{Msg: msg, Hash: h[:], Nonce: nonce, At: time.Now()}, nil
}

// Await waits until a block includes s, as the node's tx index shows it.
// A tx not found within ResendAfter of its broadcast (the mempool dropped
// it) is submitted again with Submit, under a new nonce. So the message is
// included once, except when the node lost its index of the first copy
// (it stopped abruptly): then it is included twice. Use Send and Await for
// messages for which a second copy is harmless (record anchors: the log
// holds the leaves twice).
func (c *Client) Await(ctx context.Context, s *Sent) (*Included, error) {
	for time.Since(s.At) < c.ResendAfter {
		if res, err := c.rpc.Tx(ctx, s.Hash, false); err == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.included(res, s.Nonce)
		}
		if err := sleep(ctx, c.PollInterval); err != nil {
			return nil, err
		}
	}
	if c.OnWait != nil {
		c.OnWait(errors.New("fl: a sent tx was not included in time; submitting it again"))
	}
	return c.Submit(ctx, s.Msg)
}
