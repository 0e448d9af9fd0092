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
// state record, so the app hash covers it. The tree's complete nodes are
// side keys under the same prefix, authenticated by the root, from which
// inclusion and consistency proofs are read: stored as tiles (as in
// transparency logs: C2SP tlog-tiles), each the hashes of up to 256
// consecutive nodes of a level that is a multiple of 8; a node between
// those levels is hashed up from the tile below it when a proof needs it.
// A batch of leaves so writes a few tiles, not two keys a leaf.
//
//	<prefix><hospital>                                    LogHead (Merkle state)
//	side <prefix><hospital><level u8><tile index u64>   32-byte hashes of nodes level/256·index …
type log struct {
	prefix   string // "l/" (records) or "a/" (access events)
	hospital []byte
}

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

func (l log) headKey() string { return l.prefix + string(l.hospital) }

// Tiles: tileHeight levels of the tree share one level of stored nodes,
// tileWidth of which make a tile.
const (
	tileHeight = 8
	tileWidth  = 1 << tileHeight
)

// tileID names a tile: the stored level (a multiple of tileHeight) and
// the tile's index along it.
type tileID struct {
	level uint
	index uint64
}

func (l log) tileKey(t tileID) string {
	b := make([]byte, 0, len(l.hospital)+9)
	b = append(b, l.hospital...)
	b = append(b, byte(t.level))
	b = binary.BigEndian.AppendUint64(b, t.index)
	return module.SideKey(l.prefix, string(b))
}

// node is the hash of a complete node: read from its tile, or hashed up
// from the 2^d nodes of the stored level d below it, which lie in one
// tile. ok is false when the tile does not hold them (not a complete node).
func (l log) node(r module.Reader, id compact.NodeID) ([]byte, bool, error) {
	base := id.Level - id.Level%tileHeight
	d := id.Level - base
	first := id.Index << d
	v, err := r.Get(l.tileKey(tileID{base, first / tileWidth}))
	if err != nil {
		return nil, false, fmt.Errorf("%w: read tile: %v", protocol.ErrInternal, err)
	}
	off, n := int(first%tileWidth)*32, 32<<d
	if len(v)%32 != 0 || off+n > len(v) {
		return nil, false, nil
	}
	hashes := make([][]byte, 1<<d)
	for i := range hashes {
		hashes[i] = v[off+32*i : off+32*i+32]
	}
	for len(hashes) > 1 {
		up := make([][]byte, len(hashes)/2)
		for i := range up {
			up[i] = hasher.HashChildren(hashes[2*i], hashes[2*i+1])
		}
		hashes = up
	}
	return hashes[0], true, nil
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
	// The complete nodes of the stored levels, appended to their tiles:
	// along a level they come in index order, so each tile grows at its
	// end. Each touched tile is written once.
	grown := map[tileID][]byte{}
	var order []tileID
	var bad error
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level%tileHeight != 0 || bad != nil {
			return
		}
		t := tileID{id.Level, id.Index / tileWidth}
		v, ok := grown[t]
		if !ok {
			if v, bad = st.Get(l.tileKey(t)); bad != nil {
				return
			}
			v = append([]byte(nil), v...)
			order = append(order, t)
		}
		if uint64(len(v)/32) != id.Index%tileWidth {
			bad = fmt.Errorf("tile %d/%d holds %d nodes; node %d comes next", t.level, t.index, len(v)/32, id.Index)
			return
		}
		grown[t] = append(v, hash...)
	}
	for _, lh := range leafHashes {
		if err := r.Append(lh, visit); err != nil {
			return 0, nil, fmt.Errorf("%w: append to log of %x: %v", protocol.ErrInternal, l.hospital, err)
		}
	}
	if bad != nil {
		return 0, nil, fmt.Errorf("%w: log of %x: %v", protocol.ErrInternal, l.hospital, bad)
	}
	for _, t := range order {
		st.Set(l.tileKey(t), grown[t])
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
		v, ok, err := l.node(r, id)
		if err != nil {
			return nil, err
		}
		if !ok {
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
