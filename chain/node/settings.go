package node

import (
	"errors"
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/types"
)

// NetworkSettings are the CometBFT limits that decide how many update
// bytes a network orders per second and how large a transaction may be.
// A zero field keeps CometBFT's default (given in brackets).
type NetworkSettings struct {
	// BlockMaxBytes is the genesis consensus parameter block.max_bytes [21 MB].
	BlockMaxBytes int64
	// MaxTxBytes is mempool.max_tx_bytes, the largest transaction [1 MiB].
	MaxTxBytes int
	// MempoolMaxTxsBytes is mempool.max_txs_bytes, all pending txs [1 GiB].
	MempoolMaxTxsBytes int64
	// RPCMaxBodyBytes is rpc.max_body_bytes, the largest request [1 MB];
	// a tx travels base64-encoded in JSON, so it needs 4/3 of MaxTxBytes.
	RPCMaxBodyBytes int64
	// P2PRate is p2p.send_rate and p2p.recv_rate in bytes/s per peer [5 MB/s].
	P2PRate int64
	// MaxPacketPayload is p2p.max_packet_msg_payload_size [1 kB].
	MaxPacketPayload int
}

// DefaultNetwork returns settings chosen for update traffic between
// hospitals: blocks of 8 MiB carry two int32 updates of a million
// parameters or dozens of compressed ones; 1 MiB transactions (larger
// updates go as chunk transactions); an RPC body that fits the largest
// transaction base64-encoded; a 256 MiB mempool (a round of 40 hospitals
// × 4 MB with room to spare); peers exchanging up to 64 MB/s in 16 kB
// packets instead of 5 MB/s in 1 kB ones. Lower P2PRate to what the links
// between sites carry.
func DefaultNetwork() NetworkSettings {
	return NetworkSettings{
		BlockMaxBytes:      8 << 20,
		MaxTxBytes:         1 << 20,
		MempoolMaxTxsBytes: 256 << 20,
		RPCMaxBodyBytes:    3 << 20,
		P2PRate:            64_000_000,
		MaxPacketPayload:   16 << 10,
	}
}

// Apply writes the settings into a node's config.
func (s NetworkSettings) Apply(c *cmtcfg.Config) {
	if s.MaxTxBytes > 0 {
		c.Mempool.MaxTxBytes = s.MaxTxBytes
	}
	if s.MempoolMaxTxsBytes > 0 {
		c.Mempool.MaxTxsBytes = s.MempoolMaxTxsBytes
	}
	if s.RPCMaxBodyBytes > 0 {
		c.RPC.MaxBodyBytes = s.RPCMaxBodyBytes
	}
	if s.P2PRate > 0 {
		c.P2P.SendRate, c.P2P.RecvRate = s.P2PRate, s.P2PRate
	}
	if s.MaxPacketPayload > 0 {
		c.P2P.MaxPacketMsgPayloadSize = s.MaxPacketPayload
	}
}

// TxLimit is the largest transaction the nodes take: MaxTxBytes, or
// CometBFT's default when it is zero.
func (s NetworkSettings) TxLimit() int {
	if s.MaxTxBytes > 0 {
		return s.MaxTxBytes
	}
	return cmtcfg.DefaultMempoolConfig().MaxTxBytes
}

// Validate checks the settings against each other.
func (s NetworkSettings) Validate() error {
	if s.BlockMaxBytes < 0 || s.MaxTxBytes < 0 || s.MempoolMaxTxsBytes < 0 || s.RPCMaxBodyBytes < 0 || s.P2PRate < 0 || s.MaxPacketPayload < 0 {
		return errors.New("node: negative network setting")
	}
	block, tx := s.BlockMaxBytes, int64(s.TxLimit())
	if block == 0 {
		block = types.DefaultBlockParams().MaxBytes
	}
	if tx > block {
		return fmt.Errorf("node: max tx bytes %d exceed block max bytes %d; no block could hold such a tx", tx, block)
	}
	return nil
}
