package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/records"
)

// Anchored is a stored reading with where its leaf is in the hospital's
// record log: what a reviewer needs to check it.
type Anchored struct {
	Reading   json.RawMessage `json:"reading"` // the stored reading, canonical
	LeafIndex uint64          `json:"leaf_index"`
	Height    int64           `json:"anchor_height"`
}

// Locate returns reading seq with its place in the log.
func (s *Store) Locate(seq uint64) (*Anchored, error) {
	bz, err := s.Get(seq)
	if err != nil {
		return nil, err
	}
	bt, err := s.BatchOf(seq)
	if err != nil {
		return nil, err
	}
	return &Anchored{Reading: bz, LeafIndex: bt.FirstLeaf + (seq - bt.FirstSeq), Height: bt.Height}, nil
}

// Verify checks a on chain: its reading's leaf is leaf LeafIndex of
// holder's record log (the log head read with its proof, then the leaf's
// inclusion proof; with a Verifier on c, both against a header the light
// client verified). An altered reading fails with protocol.ErrNotInLog.
func Verify(ctx context.Context, c *fl.Client, holder []byte, a *Anchored) (*pb.LogHead, error) {
	var st Stored
	if err := json.Unmarshal(a.Reading, &st); err != nil {
		return nil, fmt.Errorf("gateway: not a stored reading: %w", err)
	}
	return records.VerifyLeaf(ctx, c, holder, a.LeafIndex, Leaf(a.Reading))
}
