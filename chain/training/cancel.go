package training

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// cancelTask ends a running task: its open round closes with outcome
// "cancelled" (no aggregation; revealed updates and chunks dropped), the
// task is marked cancelled with who, when and why, and leaves the active
// list, so no round opens after it.
func (c exec) cancelTask(signer *pb.Participant, m *pb.CancelTask) error {
	task, err := c.task(m.TaskId)
	if err != nil {
		return err
	}
	if task == nil {
		return fmt.Errorf("%w: task %d does not exist", protocol.ErrUnknownTask, m.TaskId)
	}
	if !bytes.Equal(task.Creator, signer.PubKey) && signer.Role != pb.ROLE_ADMIN {
		return fmt.Errorf("%w: only task %d's creator or an admin may cancel it", protocol.ErrUnauthorized, m.TaskId)
	}
	if m.Reason == "" || len(m.Reason) > protocol.MaxRecordsText || !utf8.ValidString(m.Reason) {
		return fmt.Errorf("%w: a cancellation states its reason (UTF-8, at most %d bytes)", protocol.ErrInvalidMsg, protocol.MaxRecordsText)
	}
	if task.Status != pb.TASK_STATUS_RUNNING {
		return fmt.Errorf("%w: task %d is no longer running", protocol.ErrRoundClosed, m.TaskId)
	}
	var rd pb.Round
	ok, err := c.State.Load(roundKey(task.Id, task.CurrentRound), &rd)
	if err != nil {
		return err
	}
	if ok && rd.Phase != pb.PHASE_CLOSED {
		for _, s := range rd.Submissions {
			if s.Revealed {
				c.deleteUpdate(task.Id, rd.Round, s.Hospital, task.Spec.InitialModel.Len)
			} else {
				for j := range uint32(len(s.ChunkHashes)) {
					c.State.Delete(chunkKey(task.Id, rd.Round, s.Hospital, j))
				}
			}
		}
		rd.Phase, rd.ClosedHeight, rd.Outcome, rd.OutputModelHash = pb.PHASE_CLOSED, c.Height, "cancelled", task.ModelHash
		c.State.Save(roundKey(task.Id, rd.Round), &rd)
	}
	task.Status, task.FinishedHeight = pb.TASK_STATUS_CANCELLED, c.Height
	task.CancelNote = fmt.Sprintf("cancelled by %s at height %d: %s", signer.Name, c.Height, m.Reason)
	c.State.Save(taskKey(task.Id), task)
	active, err := c.activeTasks()
	if err != nil {
		return err
	}
	kept := active[:0]
	for _, id := range active {
		if id != task.Id {
			kept = append(kept, id)
		}
	}
	c.setActiveTasks(kept)
	c.Emit("task_cancelled", "task_id", module.U64(task.Id), "by", signer.Name)
	return nil
}
