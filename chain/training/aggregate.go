package training

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// errRoundFailed marks an aggregation that cannot run on what the round
// holds (package aggregator refused the revealed values). The round then
// closes with the reason as its outcome, keeps the previous model, and the
// chain goes on: nothing a transaction carries may halt it.
var errRoundFailed = errors.New("aggregation failed")

// failRound closes the round with the aggregation's failure as outcome.
func (c exec) failRound(task *pb.Task, rd *pb.Round, err error) (bool, error) {
	rd.Weights = nil
	return c.closeRound(task, rd, "failed: "+strings.TrimPrefix(err.Error(), errRoundFailed.Error()+": "))
}

// aggregate runs the task's rule over the revealed updates (leaving out
// flagged and sybil hospitals when reputation is on), scores every invited
// hospital, and closes the round.
func (c exec) aggregate(task *pb.Task, rd *pb.Round) (bool, error) {
	rule, err := aggregator.NewRule(task.Spec.Rule, protocol.RuleParams(&task.Spec))
	if err != nil {
		return false, fmt.Errorf("%w: %v", protocol.ErrInternal, err)
	}
	prev, err := c.model(task.Id, task.ModelRound)
	if err != nil {
		return false, err
	}
	var rep pb.Reputation
	if task.Spec.Reputation {
		ok, err := c.State.Load(reputationKey(task.Id), &rep)
		if err != nil {
			return false, err
		}
		if !ok || len(rep.Scores) != len(task.Spec.Hospitals) {
			return false, fmt.Errorf("%w: reputation of task %d missing", protocol.ErrInternal, task.Id)
		}
	}
	// Members in the order of task.Spec.Hospitals (sorted by key).
	members := make([]aggregator.Member, len(task.Spec.Hospitals))
	for i, h := range task.Spec.Hospitals {
		if task.Spec.Reputation {
			members[i].Score, members[i].Flagged = rep.Scores[i].ScorePpm, rep.Scores[i].Flagged
		}
		j := findSubmission(rd, h)
		if j < 0 {
			continue
		}
		s := rd.Submissions[j]
		members[i].Committed = true
		members[i].Weight = s.NumSamples
		if !s.Revealed {
			continue
		}
		bz, err := c.State.Get(updateKey(task.Id, rd.Round, h))
		if err != nil || bz == nil {
			return false, fmt.Errorf("%w: revealed update of %X missing: %v", protocol.ErrInternal, h, err)
		}
		vec, err := pb.DecodeVector(bz)
		if err != nil {
			return false, fmt.Errorf("%w: stored update: %v", protocol.ErrInternal, err)
		}
		if members[i].Update, err = vec.Values(); err != nil {
			return false, fmt.Errorf("%w: stored update: %v", protocol.ErrInternal, err)
		}
		members[i].Revealed = true
	}
	if c.BeforeAggregate != nil {
		c.BeforeAggregate()
	}
	out, err := aggregator.RunRound(members, rule, task.Spec.Reputation)
	if err != nil {
		return c.failRound(task, rd, err)
	}
	for i, m := range members {
		if m.Revealed {
			rd.Weights = append(rd.Weights, out.Weights[i])
		}
	}
	if task.Spec.Reputation {
		for i, ch := range out.Changes {
			sc := &rep.Scores[i]
			rd.Reputation = append(rd.Reputation, pb.ReputationChange{
				Hospital: sc.Hospital, DeltaPpm: ch.Delta, ScorePpm: ch.Score, Reasons: ch.Reasons, Flagged: ch.Flagged})
			if ch.Flagged && !sc.Flagged {
				sc.FlaggedRound = rd.Round
				c.Emit("hospital_flagged", "task_id", module.U64(task.Id), "round", module.U64(uint64(rd.Round)),
					"hospital", hex.EncodeToString(sc.Hospital), "reason", strings.Join(ch.Reasons, "; "))
			}
			sc.ScorePpm, sc.Flagged = ch.Score, ch.Flagged
		}
		c.State.Save(reputationKey(task.Id), &rep)
	}
	if out.Aggregate == nil {
		return c.closeRound(task, rd, "skipped: no update left once flagged and sybil hospitals were excluded")
	}
	w, err := prev.Weights.Values()
	if err != nil {
		return false, fmt.Errorf("%w: stored model: %v", protocol.ErrInternal, err)
	}
	step, err := c.serverStep(task, out.Aggregate)
	if errors.Is(err, errRoundFailed) {
		return c.failRound(task, rd, err)
	}
	if err != nil {
		return false, err
	}
	lo, hi := prev.Weights.Width.Bounds()
	next, err := aggregator.AddSaturating(w, step, lo, hi)
	if err != nil {
		return c.failRound(task, rd, err)
	}
	vec, err := pb.NewVector(prev.Weights.FracBits, prev.Weights.Width, next)
	if err != nil {
		return c.failRound(task, rd, err)
	}
	model := pb.GlobalModel{TaskId: task.Id, Round: rd.Round, Weights: vec, Hash: vec.Hash()}
	c.State.Save(modelKey(task.Id, rd.Round), &model)
	task.ModelHash = model.Hash
	task.ModelRound = rd.Round
	rd.NumAggregated = uint32(out.Used)
	return c.closeRound(task, rd, "aggregated")
}

// serverStep runs the task's server optimizer on the round's aggregate and
// keeps its state.
func (c exec) serverStep(task *pb.Task, delta []int64) ([]int64, error) {
	p := protocol.ServerOptParams(&task.Spec)
	if p.Name == "" || p.Name == "fedavg" {
		return delta, nil
	}
	var stored pb.ServerOptState
	var st aggregator.ServerOptState
	ok, err := c.State.Load(serverOptKey(task.Id), &stored)
	if err != nil {
		return nil, err
	}
	if ok {
		if st.M, err = stored.M.Values(); err != nil {
			return nil, fmt.Errorf("%w: server optimizer state: %v", protocol.ErrInternal, err)
		}
		if st.V, err = stored.V.Values(); err != nil {
			return nil, fmt.Errorf("%w: server optimizer state: %v", protocol.ErrInternal, err)
		}
	}
	step, next, err := aggregator.ServerStep(p, st, delta)
	if err != nil {
		return nil, fmt.Errorf("%w: server optimizer: %v", errRoundFailed, err)
	}
	m, err := pb.NewVector(task.Spec.FracBits, pb.WIDTH_INT64, next.M)
	if err != nil {
		return nil, fmt.Errorf("%w: server optimizer state: %v", errRoundFailed, err)
	}
	v, err := pb.NewVector(2*task.Spec.FracBits, pb.WIDTH_INT64, next.V)
	if err != nil && next.V != nil {
		return nil, fmt.Errorf("%w: server optimizer state: %v", errRoundFailed, err)
	}
	if next.V == nil {
		v = pb.Vector{Width: pb.WIDTH_INT64}
	}
	c.State.Save(serverOptKey(task.Id), &pb.ServerOptState{M: m, V: v})
	return step, nil
}

// reinstate clears a hospital's flag (admins only).
func (c exec) reinstate(signer *pb.Participant, m *pb.Reinstate) error {
	if err := module.RequireRole(signer, pb.ROLE_ADMIN, "reinstate a hospital"); err != nil {
		return err
	}
	task, err := c.task(m.TaskId)
	if err != nil {
		return err
	}
	if task == nil {
		return fmt.Errorf("%w: task %d does not exist", protocol.ErrUnknownTask, m.TaskId)
	}
	if !task.Spec.Reputation {
		return fmt.Errorf("%w: task %d keeps no reputation", protocol.ErrInvalidMsg, m.TaskId)
	}
	var rep pb.Reputation
	if _, err := c.State.Load(reputationKey(m.TaskId), &rep); err != nil {
		return err
	}
	for i := range rep.Scores {
		sc := &rep.Scores[i]
		if bytes.Equal(sc.Hospital, m.Hospital) {
			if !sc.Flagged {
				return fmt.Errorf("%w: hospital %X is not flagged in task %d", protocol.ErrInvalidMsg, m.Hospital, m.TaskId)
			}
			sc.Flagged, sc.ScorePpm = false, aggregator.ScoreStart
			sc.Note = fmt.Sprintf("reinstated by %s at height %d: %s", signer.Name, c.Height, m.Reason)
			c.State.Save(reputationKey(m.TaskId), &rep)
			c.Emit("hospital_reinstated", "task_id", module.U64(m.TaskId), "hospital", hex.EncodeToString(m.Hospital))
			return nil
		}
	}
	return fmt.Errorf("%w: %X is not invited to task %d", protocol.ErrNotInvited, m.Hospital, m.TaskId)
}
