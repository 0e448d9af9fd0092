package training

import (
	"bytes"
	"fmt"
	"sort"
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
	task, err := c.existingTask(m.TaskId)
	if err != nil {
		return err
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
		c.dropRoundData(task, &rd)
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

// reportMetrics records an invited hospital's metrics of a finished
// task's final model, once.
func (c exec) reportMetrics(signer *pb.Participant, m *pb.ReportMetrics) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "report metrics"); err != nil {
		return err
	}
	task, err := c.existingTask(m.TaskId)
	if err != nil {
		return err
	}
	if task.Status != pb.TASK_STATUS_DONE {
		return fmt.Errorf("%w: task %d has no final model yet (or was cancelled)", protocol.ErrWrongPhase, m.TaskId)
	}
	if !isInvited(task, signer.PubKey) {
		return fmt.Errorf("%w: %s is not invited to task %d", protocol.ErrNotInvited, signer.Name, m.TaskId)
	}
	if m.Metrics.AccuracyPpm > 1_000_000 || m.Metrics.NumExamples == 0 {
		return fmt.Errorf("%w: metrics need examples and an accuracy_ppm of at most 1000000", protocol.ErrInvalidMsg)
	}
	i := sort.Search(len(task.FinalMetrics), func(i int) bool {
		return bytes.Compare(task.FinalMetrics[i].Hospital, signer.PubKey) >= 0
	})
	if i < len(task.FinalMetrics) && bytes.Equal(task.FinalMetrics[i].Hospital, signer.PubKey) {
		return fmt.Errorf("%w: %s already reported on task %d's final model", protocol.ErrDuplicate, signer.Name, m.TaskId)
	}
	task.FinalMetrics = append(task.FinalMetrics, pb.FinalMetrics{})
	copy(task.FinalMetrics[i+1:], task.FinalMetrics[i:])
	task.FinalMetrics[i] = pb.FinalMetrics{Hospital: signer.PubKey, Metrics: m.Metrics, Height: c.Height}
	c.State.Save(taskKey(task.Id), task)
	c.Emit("final_metrics", "task_id", module.U64(task.Id), "hospital", signer.Name)
	return nil
}
