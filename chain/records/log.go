package records

import (
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// A log is one hospital's append-only RFC 6962 Merkle tree. Its head
// (size, root and the compact range [0, size) it grows from) is a Merkle
// state record, so the app hash covers it; every complete node of the
// tree is a side key under the same prefix, authenticated by the root,
// from which inclusion and consistency proofs are read.
//
//	<prefix><hospital>                     LogHead (Merkle state)
//	side <prefix><hospital><level u8><index u64>   node hash
type log struct {
	prefix   string // "l/" (records) or "a/" (access events)
	hospital []byte
}

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

func (l log) headKey() string { return l.prefix + string(l.hospital) }

func (l log) nodeKey(id compact.NodeID) string {
	b := make([]byte, 0, len(l.hospital)+9)
	b = append(b, l.hospital...)
	b = append(b, byte(id.Level))
	b = binary.BigEndian.AppendUint64(b, id.Index)
	return module.SideKey(l.prefix, string(b))
}

// head reads the log's head; an empty log has size 0 and the empty root.
func (l log) head(r module.Reader) (*pb.LogHead, error) {
	var h pb.LogHead
	ok, err := module.Load(r, l.headKey(), &h)
	if err != nil {
		return nil, err
	}
	if !ok {
		h.Root = hasher.EmptyRoot()
	}
	return &h, nil
}

// appendLeaves appends leaf hashes (RFC 6962 leaf hashes, 32 bytes each)
// and saves the new head; it returns the index of the first.
func (l log) appendLeaves(st module.State, height int64, leafHashes [][]byte) (uint64, *pb.LogHead, error) {
	h, err := l.head(st)
	if err != nil {
		return 0, nil, err
	}
	first := h.TreeSize
	r, err := factory.NewRange(0, h.TreeSize, h.Frontier)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: log head of %x: %v", protocol.ErrInternal, l.hospital, err)
	}
	visit := func(id compact.NodeID, hash []byte) { st.Set(l.nodeKey(id), hash) }
	for _, lh := range leafHashes {
		if err := r.Append(lh, visit); err != nil {
			return 0, nil, fmt.Errorf("%w: append to log of %x: %v", protocol.ErrInternal, l.hospital, err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: root of log of %x: %v", protocol.ErrInternal, l.hospital, err)
	}
	h = &pb.LogHead{TreeSize: r.End(), Root: root, Frontier: r.Hashes(), Height: uint64(height)}
	st.Save(l.headKey(), h)
	return first, h, nil
}

// nodes reads the hashes of a proof's nodes and rehashes its ephemeral one.
func (l log) nodes(r module.Reader, n proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		v, err := r.Get(l.nodeKey(id))
		if err != nil {
			return nil, fmt.Errorf("%w: read node: %v", protocol.ErrInternal, err)
		}
		if len(v) != 32 {
			return nil, fmt.Errorf("%w: log of %x has no node %d/%d", protocol.ErrInternal, l.hospital, id.Level, id.Index)
		}
		hashes[i] = v
	}
	return n.Rehash(hashes, hasher.HashChildren)
}

// inclusion is the inclusion proof of leaf index in the tree of size
// leaves (at most the log's size).
func (l log) inclusion(r module.Reader, index, size uint64) ([][]byte, error) {
	if err := l.within(r, size); err != nil {
		return nil, err
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", protocol.ErrBadQuery, err)
	}
	return l.nodes(r, n)
}

// consistency is the proof that the tree of size2 extends that of size1.
func (l log) consistency(r module.Reader, size1, size2 uint64) ([][]byte, error) {
	if err := l.within(r, size2); err != nil {
		return nil, err
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", protocol.ErrBadQuery, err)
	}
	return l.nodes(r, n)
}

func (l log) within(r module.Reader, size uint64) error {
	h, err := l.head(r)
	if err != nil {
		return err
	}
	if size > h.TreeSize {
		return fmt.Errorf("%w: the log of %x has %d leaves, not %d", protocol.ErrNotFound, l.hospital, h.TreeSize, size)
	}
	return nil
}
