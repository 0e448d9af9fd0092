package training

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// endBlock advances every running task's round: it opens the reveal phase
// when the commit window closes or every invited hospital committed, and
// closes the round when the reveal window closes or every committer revealed.
func (c exec) endBlock() error {
	ids, err := c.activeTasks()
	if err != nil {
		return err
	}
	var still []uint64
	for _, id := range ids {
		done, err := c.advance(id)
		if err != nil {
			return err
		}
		if !done {
			still = append(still, id)
		}
	}
	if len(still) != len(ids) {
		c.setActiveTasks(still)
	}
	return nil
}

func (c exec) advance(id uint64) (finished bool, err error) {
	task, err := c.task(id)
	if err != nil {
		return false, err
	}
	if task == nil {
		return false, fmt.Errorf("%w: active task %d missing", protocol.ErrInternal, id)
	}
	rd, err := c.round(id, task.CurrentRound)
	if err != nil {
		return false, err
	}
	switch rd.Phase {
	case pb.PHASE_COMMIT:
		eligible, err := c.eligible(task)
		if err != nil {
			return false, err
		}
		allIn := len(rd.Submissions) >= eligible
		if !allIn && c.Height < rd.CommitDeadline {
			return false, nil
		}
		if len(rd.Submissions) < int(task.Spec.MinParticipants) {
			return c.closeRound(task, rd, fmt.Sprintf("skipped: %d of %d hospitals committed, %d needed", len(rd.Submissions), len(task.Spec.Hospitals), task.Spec.MinParticipants))
		}
		rd.Phase = pb.PHASE_REVEAL
		rd.RevealDeadline = c.Height + int64(task.Spec.RevealWindow)
		c.State.Save(roundKey(id, rd.Round), rd)
		c.Emit("reveal_opened", "task_id", module.U64(id), "round", module.U64(uint64(rd.Round)),
			"reveal_deadline", strconv.FormatInt(rd.RevealDeadline, 10))
		return false, nil
	case pb.PHASE_REVEAL:
		revealed := 0
		for _, s := range rd.Submissions {
			if s.Revealed {
				revealed++
			}
		}
		if revealed < len(rd.Submissions) && c.Height < rd.RevealDeadline {
			return false, nil
		}
		if revealed < int(task.Spec.MinParticipants) {
			return c.closeRound(task, rd, fmt.Sprintf("skipped: %d of %d committed hospitals revealed, %d needed", revealed, len(rd.Submissions), task.Spec.MinParticipants))
		}
		return c.aggregate(task, rd)
	}
	return false, fmt.Errorf("%w: task %d round %d in phase %v", protocol.ErrInternal, id, rd.Round, rd.Phase)
}

// dropRoundData deletes a closing round's verdicts, revealed updates and
// the chunks of unfinished chunked reveals (they stay in the blocks).
func (c exec) dropRoundData(task *pb.Task, rd *pb.Round) {
	for _, s := range rd.Submissions {
		c.State.Delete(verdictsKey(task.Id, rd.Round, s.Hospital))
		if s.Revealed {
			c.deleteUpdate(task.Id, rd.Round, s.Hospital, task.Spec.InitialModel.Len)
		} else if s.ChunksRevealed > 0 {
			for j := range uint32(len(s.ChunkHashes)) {
				c.State.Delete(chunkKey(task.Id, rd.Round, s.Hospital, j))
			}
		}
	}
}

// closeRound records the outcome, drops the round's revealed updates (they
// stay in the blocks), and opens the next round or finishes the task.
func (c exec) closeRound(task *pb.Task, rd *pb.Round, outcome string) (bool, error) {
	c.dropRoundData(task, rd)
	rd.Phase = pb.PHASE_CLOSED
	rd.ClosedHeight = c.Height
	rd.Outcome = outcome
	rd.OutputModelHash = task.ModelHash
	c.State.Save(roundKey(task.Id, rd.Round), rd)
	c.Emit("round_closed", "task_id", module.U64(task.Id), "round", module.U64(uint64(rd.Round)),
		"model_hash", hex.EncodeToString(task.ModelHash), "outcome", outcome,
		"aggregated", module.U64(uint64(rd.NumAggregated)))
	if rd.Round >= task.Spec.Rounds {
		task.Status = pb.TASK_STATUS_DONE
		task.FinishedHeight = c.Height
		c.State.Save(taskKey(task.Id), task)
		c.Emit("task_finished", "task_id", module.U64(task.Id), "model_hash", hex.EncodeToString(task.ModelHash))
		return true, nil
	}
	task.CurrentRound++
	c.State.Save(taskKey(task.Id), task)
	c.openRound(task)
	return false, nil
}

// score returns a hospital's standing in a task with reputation, or nil.
func (c exec) score(task *pb.Task, hospital []byte) (*pb.HospitalScore, error) {
	if !task.Spec.Reputation {
		return nil, nil
	}
	var rep pb.Reputation
	if _, err := c.State.Load(reputationKey(task.Id), &rep); err != nil {
		return nil, err
	}
	for i := range rep.Scores {
		if bytes.Equal(rep.Scores[i].Hospital, hospital) {
			return &rep.Scores[i], nil
		}
	}
	return nil, nil
}

// eligible counts the invited hospitals that may commit (not flagged).
func (c exec) eligible(task *pb.Task) (int, error) {
	n := len(task.Spec.Hospitals)
	if !task.Spec.Reputation {
		return n, nil
	}
	var rep pb.Reputation
	if _, err := c.State.Load(reputationKey(task.Id), &rep); err != nil {
		return 0, err
	}
	for _, sc := range rep.Scores {
		if sc.Flagged {
			n--
		}
	}
	return n, nil
}
