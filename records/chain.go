package records

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Anchor puts every pending entry's leaf in the hospital's log on chain,
// in batches of up to protocol.MaxAnchorLeaves, and records where each
// went. c must sign as the store's holder. It returns how many it anchored.
func Anchor(ctx context.Context, c *fl.Client, s *Store) (int, error) {
	if string(c.PubKey()) != string(s.holder) {
		return 0, fmt.Errorf("records: the chain client signs as %x, but the store is %x's", c.PubKey(), s.holder)
	}
	entries, keys, err := s.Pending()
	if err != nil {
		return 0, err
	}
	done := 0
	for len(entries) > 0 {
		n := min(len(entries), protocol.MaxAnchorLeaves)
		leaves := make([][]byte, n)
		for i, e := range entries[:n] {
			leaves[i] = e.Leaf
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_AnchorRecords{AnchorRecords: &pb.AnchorRecords{Leaves: leaves}}})
		if err != nil {
			return done, fmt.Errorf("records: anchor %d leaves: %w", n, err)
		}
		first, err := AnchoredAt(ctx, c, s.holder, inc, n)
		if err != nil {
			return done, err
		}
		if err := s.markAnchored(entries[:n], keys[:n], first, inc.Height); err != nil {
			return done, err
		}
		entries, keys, done = entries[n:], keys[n:], done+n
	}
	return done, nil
}

// AnchoredAt is the index of the first leaf an included anchor appended:
// from its event, or, when the node did not index the tx, from the log's
// size (the holder is its log's only writer), checked by the first
// leaf's inclusion proof either way.
func AnchoredAt(ctx context.Context, c *fl.Client, holder []byte, inc *fl.Included, n int) (uint64, error) {
	if v, ok := inc.Attr("records_anchored", "first"); ok {
		return strconv.ParseUint(v, 10, 64)
	}
	head, err := LogHead(ctx, c, holder)
	if err != nil {
		return 0, err
	}
	if head.TreeSize < uint64(n) {
		return 0, fmt.Errorf("records: the log of %x has %d leaves after an anchor of %d", holder, head.TreeSize, n)
	}
	return head.TreeSize - uint64(n), nil
}

// LogHead reads a hospital's record log head, proved when c has a Verifier.
func LogHead(ctx context.Context, c *fl.Client, holder []byte) (*pb.LogHead, error) {
	return head(ctx, c, protocol.RecordLogPath(holder))
}

// AccessHead reads a hospital's access log head.
func AccessHead(ctx context.Context, c *fl.Client, holder []byte) (*pb.LogHead, error) {
	return head(ctx, c, protocol.AccessLogPath(holder))
}

func head(ctx context.Context, c *fl.Client, path string) (*pb.LogHead, error) {
	var h pb.LogHead
	if _, err := c.Query(ctx, path, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// VerifyLeaf checks on chain that leaf is leaf index of holder's record
// log: the log head read with its proof, then the leaf's inclusion proof.
func VerifyLeaf(ctx context.Context, c *fl.Client, holder []byte, index uint64, leaf []byte) (*pb.LogHead, error) {
	h, err := LogHead(ctx, c, holder)
	if err != nil {
		return nil, err
	}
	if index >= h.TreeSize {
		return h, fmt.Errorf("%w: leaf %d is past the end of the log of %d", protocol.ErrNotInLog, index, h.TreeSize)
	}
	var p pb.Hashes
	if _, err := c.Query(ctx, protocol.InclusionPath(protocol.LogRecords, holder, index, h.TreeSize), &p); err != nil {
		return h, err
	}
	return h, protocol.VerifyLeaf(h, index, leaf, p.Hashes)
}

// VerifyEntry checks a stored record against the chain: its content (if
// not erased) gives its leaf, and the leaf is in the log where the entry
// says. An erased record checks its kept leaf only.
func VerifyEntry(ctx context.Context, c *fl.Client, s *Store, id string, version uint64) (*Entry, error) {
	e, content, leafKey, err := s.Content(id, version)
	switch {
	case err == nil:
		if got := Leaf(leafKey, e.ID, e.Version, content); string(got) != string(e.Leaf) {
			return e, fmt.Errorf("%w: the stored content of %q version %d no longer gives its anchored leaf", protocol.ErrNotInLog, id, e.Version)
		}
	case e != nil && e.Erased:
	default:
		return e, err
	}
	if !e.Anchored {
		return e, fmt.Errorf("records: %q version %d is not anchored yet; run records anchor", id, e.Version)
	}
	_, err = VerifyLeaf(ctx, c, s.holder, e.Index, e.Leaf)
	return e, err
}

// VerifyAccessLog reads holder's access events [from, from+count) and
// checks each against the proved access log head. It returns the events
// and the head.
func VerifyAccessLog(ctx context.Context, c *fl.Client, holder []byte, from, count uint64) ([]pb.AccessEvent, *pb.LogHead, error) {
	h, err := AccessHead(ctx, c, holder)
	if err != nil {
		return nil, nil, err
	}
	if from > h.TreeSize {
		from = h.TreeSize
	}
	count = min(count, h.TreeSize-from, protocol.MaxRecordsList)
	if count == 0 {
		return nil, h, nil
	}
	var list pb.AccessEventList
	if _, err := c.Query(ctx, protocol.EventsPath(holder, from, count), &list); err != nil {
		return nil, h, err
	}
	if uint64(len(list.Events)) != count {
		return nil, h, fmt.Errorf("%w: asked for %d events, got %d", fl.ErrLyingNode, count, len(list.Events))
	}
	for i := range list.Events {
		var p pb.Hashes
		if _, err := c.Query(ctx, protocol.InclusionPath(protocol.LogAccess, holder, from+uint64(i), h.TreeSize), &p); err != nil {
			return nil, h, err
		}
		if err := protocol.VerifyEvent(h, from+uint64(i), &list.Events[i], p.Hashes); err != nil {
			return nil, h, err
		}
	}
	return list.Events, h, nil
}

// VerifyExtends checks that holder's record log today extends the head a
// reviewer kept (size and root): no anchored leaf was changed or removed.
func VerifyExtends(ctx context.Context, c *fl.Client, holder []byte, older *pb.LogHead) (*pb.LogHead, error) {
	h, err := LogHead(ctx, c, holder)
	if err != nil {
		return nil, err
	}
	if older.TreeSize > h.TreeSize {
		return h, fmt.Errorf("%w: the log has %d leaves, fewer than the %d of the head kept", protocol.ErrNotInLog, h.TreeSize, older.TreeSize)
	}
	var p pb.Hashes
	if _, err := c.Query(ctx, protocol.ConsistencyPath(protocol.LogRecords, holder, older.TreeSize, h.TreeSize), &p); err != nil {
		return h, err
	}
	return h, protocol.VerifyExtends(older, h, p.Hashes)
}
