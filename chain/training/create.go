package training

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

func (c exec) createTask(signer *pb.Participant, m *pb.CreateTask) error {
	if err := module.RequireRole(signer, pb.ROLE_RESEARCHER, "create a task"); err != nil {
		return err
	}
	spec := m.Spec
	if err := c.validateSpec(&spec); err != nil {
		return err
	}
	seq, err := c.State.Uint64At(keyTaskSeq)
	if err != nil {
		return err
	}
	id := seq + 1
	c.State.SetUint64(keyTaskSeq, id)
	model := pb.GlobalModel{TaskId: id, Round: 0, Weights: spec.InitialModel, Hash: spec.InitialModel.Hash()}
	c.State.Save(modelKey(id, 0), &model)
	// The task keeps the initial model's shape, not its weights: they are
	// the round-0 model, and the task record is read by every reveal.
	spec.InitialModel.Data = nil
	task := pb.Task{
		Id: id, Creator: signer.PubKey, Spec: spec, Status: pb.TASK_STATUS_RUNNING,
		CurrentRound: 1, CreatedHeight: c.Height, ModelHash: model.Hash, ModelRound: 0,
	}
	c.State.Save(taskKey(id), &task)
	if spec.Reputation {
		rep := pb.Reputation{TaskId: id}
		for _, h := range spec.Hospitals {
			rep.Scores = append(rep.Scores, pb.HospitalScore{Hospital: h, ScorePpm: aggregator.ScoreStart})
		}
		c.State.Save(reputationKey(id), &rep)
	}
	active, err := c.activeTasks()
	if err != nil {
		return err
	}
	c.setActiveTasks(append(active, id)) // ids only grow, so the list stays sorted
	c.Emit("task_created", "task_id", module.U64(id), "creator", hex.EncodeToString(signer.PubKey))
	c.openRound(&task)
	return nil
}

// validateSpec checks a spec: everything stateless (protocol.ValidateSpec),
// then that every invited key is a hospital of this chain, then the initial
// model, which the chain draws from model.init_seed when the spec leaves
// it empty.
func (c exec) validateSpec(s *pb.TaskSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: task spec: "+format, append([]any{protocol.ErrInvalidMsg}, a...)...)
	}
	if err := protocol.ValidateSpec(s); err != nil {
		return err
	}
	for _, h := range s.Hospitals {
		p, err := c.State.Participant(h)
		if err != nil {
			return err
		}
		if p == nil || p.Role != pb.ROLE_HOSPITAL {
			return bad("invited key %X is not a hospital of this chain", h)
		}
	}
	// Caps first, from the declared shape only: nothing is drawn,
	// decoded or allocated for a spec that goes over them.
	p, err := c.params()
	if err != nil {
		return err
	}
	n, _ := s.Model.NumParams() // checked by ValidateSpec
	if err := p.CheckSpec(uint64(n), protocol.ModelVectors(s), len(s.Hospitals), s.Rounds, s.CommitWindow, s.RevealWindow); err != nil {
		return err
	}
	if protocol.InitialModelEmpty(s) {
		if c.Check {
			// The chain draws the model once, in FinalizeBlock: CheckTx
			// takes the declared shape, checked above.
			return nil
		}
		w, err := protocol.DrawInitialModel(s.Model, s.FracBits)
		if err != nil {
			return bad("%v", err)
		}
		if s.InitialModel, err = pb.NewVector(s.FracBits, pb.WIDTH_INT32, w); err != nil {
			return bad("drawn initial model: %v", err)
		}
	}
	return protocol.CheckInitialModel(s)
}

// openRound opens task.CurrentRound at the current height.
func (c exec) openRound(task *pb.Task) {
	rd := pb.Round{
		TaskId: task.Id, Round: task.CurrentRound, Phase: pb.PHASE_COMMIT,
		OpenedHeight: c.Height, CommitDeadline: c.Height + int64(task.Spec.CommitWindow),
		InputModelHash: task.ModelHash,
	}
	c.State.Save(roundKey(task.Id, rd.Round), &rd)
	c.Emit("round_opened", "task_id", module.U64(task.Id), "round", module.U64(uint64(rd.Round)),
		"commit_deadline", strconv.FormatInt(rd.CommitDeadline, 10))
}
