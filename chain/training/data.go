package training

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/fedledger/fedledger/chain/records"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// dataAnchorKey holds the dataset anchor a hospital named in its first
// commitment to a task with a data_scope.
func dataAnchorKey(task uint64, hospital []byte) string {
	return "n/" + string(binary.BigEndian.AppendUint64(nil, task)) + string(hospital)
}

// checkDataAnchor enforces a task's data_scope on a commitment: the first
// names the record that anchors the hospital's dataset (its leaf must be
// in the hospital's record log at that index) and a research grant from
// the hospital to the task's creator over dataset data_scope; every one
// needs that grant still in force. A task without a data_scope takes no
// anchor.
func (c exec) checkDataAnchor(task *pb.Task, signer *pb.Participant, d *pb.DataAnchor) error {
	scope := task.Spec.DataScope
	if scope == "" {
		if d != nil {
			return fmt.Errorf("%w: task %d has no data_scope; send no data anchor", protocol.ErrInvalidMsg, task.Id)
		}
		return nil
	}
	key := dataAnchorKey(task.Id, signer.PubKey)
	var kept pb.DataAnchor
	ok, err := c.State.Load(key, &kept)
	if err != nil {
		return err
	}
	switch {
	case ok && d != nil && (kept.Index != d.Index || kept.GrantId != d.GrantId || !bytes.Equal(kept.Leaf, d.Leaf)):
		return fmt.Errorf("%w: %s already trains task %d on the dataset anchored at leaf %d; it cannot change", protocol.ErrInvalidMsg, signer.Name, task.Id, kept.Index)
	case !ok && d == nil:
		return fmt.Errorf("%w: task %d trains only on anchored data (data_scope %q): %s's first commitment must name its dataset's anchor and research grant", protocol.ErrInvalidMsg, task.Id, scope, signer.Name)
	case !ok:
		if len(d.Leaf) != 32 {
			return fmt.Errorf("%w: the data anchor's leaf is %d bytes, not 32", protocol.ErrInvalidMsg, len(d.Leaf))
		}
		got, err := records.LeafHash(c.State, signer.PubKey, d.Index)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, records.HashLeaf(d.Leaf)) {
			return fmt.Errorf("%w: leaf %d of %s's record log is not the data anchor's leaf", protocol.ErrInvalidMsg, d.Index, signer.Name)
		}
		kept = *d
	}
	g, err := records.LoadGrant(c.State, kept.GrantId)
	if err != nil {
		return err
	}
	if !bytes.Equal(g.Grantor, signer.PubKey) || g.Kind != pb.SCOPE_DATASET || string(g.Scope) != scope {
		return fmt.Errorf("%w: grant %d is not %s's grant over dataset %q", protocol.ErrGrantInactive, g.Id, signer.Name, scope)
	}
	if err := protocol.GrantInForce(g, task.Creator, pb.PURPOSE_RESEARCH, uint64(c.Height)); err != nil {
		return fmt.Errorf("task %d's data: %w", task.Id, err)
	}
	if !ok {
		c.State.Save(key, &kept)
	}
	return nil
}
