package chain

import (
	"crypto/sha256"
	"sync"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// sigCache remembers the transactions whose signature verified, by the
// SHA-256 of their bytes, so that a tx checked in CheckTx is not verified
// again in FinalizeBlock (nor in a recheck, nor by a second app in the same
// process). Whether a signature verifies is a fact about the bytes alone
// (they carry the chain-id, signer, nonce, body and signature), so the
// cache holds for every app and cannot change a result, only skip
// recomputing it; a tx whose bytes differ in any way has another hash.
// Only successes are kept; the oldest entry goes first once it is full.
type sigCache struct {
	mu   sync.Mutex
	seen map[[32]byte]struct{}
	ring [][32]byte
	next int
}

// sigCacheSize bounds the cache: 65,536 hashes, 2 MiB with the map.
const sigCacheSize = 1 << 16

var verified = &sigCache{seen: make(map[[32]byte]struct{}, sigCacheSize), ring: make([][32]byte, 0, sigCacheSize)}

// verifySignature is tx.VerifySignature, answered from the cache when the
// same bytes verified before.
func verifySignature(raw []byte, tx *pb.Tx) error {
	h := sha256.Sum256(raw)
	if verified.has(h) {
		return nil
	}
	if err := tx.VerifySignature(); err != nil {
		return err
	}
	verified.add(h)
	return nil
}

func (c *sigCache) has(h [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[h]
	return ok
}

func (c *sigCache) add(h [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[h]; ok {
		return
	}
	if len(c.ring) < sigCacheSize {
		c.ring = append(c.ring, h)
	} else {
		delete(c.seen, c.ring[c.next])
		c.ring[c.next] = h
		c.next = (c.next + 1) % sigCacheSize
	}
	c.seen[h] = struct{}{}
}
