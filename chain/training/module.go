package training

import (
	"fmt"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Module is the training module.
type Module struct {
	module.Base
}

var _ module.Module = Module{}

// Name is "training".
func (Module) Name() string { return "training" }

// Prefixes are the state prefixes of tasks, rounds, models, updates,
// chunks, verdicts, optimizer state, reputation and the task sequence.
func (Module) Prefixes() []string {
	return []string{"t/", "r/", "m/", "u/", "d/", "c/", "f/", "o/", "h/", "s/", "n/"}
}

// Msgs are the training messages.
func (Module) Msgs() []string {
	return []string{"create_task", "commit_update", "reveal_update", "reveal_chunk", "reinstate", "update_params", "cancel_task", "report_metrics"}
}

// Deliver checks and applies one training message.
func (Module) Deliver(ctx *module.Context, signer *pb.Participant, msg *pb.Msg) error {
	c := exec{ctx}
	switch m := msg.Sum.(type) {
	case *pb.Msg_CreateTask:
		return c.createTask(signer, m.CreateTask)
	case *pb.Msg_CommitUpdate:
		return c.commitUpdate(signer, m.CommitUpdate)
	case *pb.Msg_RevealUpdate:
		return c.revealUpdate(signer, m.RevealUpdate)
	case *pb.Msg_RevealChunk:
		return c.revealChunk(signer, m.RevealChunk)
	case *pb.Msg_Reinstate:
		return c.reinstate(signer, m.Reinstate)
	case *pb.Msg_UpdateParams:
		return c.updateParams(signer, m.UpdateParams)
	case *pb.Msg_CancelTask:
		return c.cancelTask(signer, m.CancelTask)
	case *pb.Msg_ReportMetrics:
		return c.reportMetrics(signer, m.ReportMetrics)
	}
	return fmt.Errorf("%w: %s is not a training message", protocol.ErrDecode, msg.Kind())
}

// EndBlock advances every running task's round.
func (Module) EndBlock(ctx *module.Context) error { return exec{ctx}.endBlock() }

// QueryPaths are the training queries.
func (Module) QueryPaths() []string {
	return []string{protocol.PathTask, protocol.PathTasks, protocol.PathRound, protocol.PathModel, protocol.PathReputation, protocol.PathParams}
}

// Query maps a training query to its state key; /tasks is a list.
func (Module) Query(r module.Reader, q protocol.Query) (string, []byte, error) {
	switch q.Path {
	case protocol.PathTask:
		return taskKey(q.Task), nil, nil
	case protocol.PathRound:
		return roundKey(q.Task, q.Round), nil, nil
	case protocol.PathReputation:
		return reputationKey(q.Task), nil, nil
	case protocol.PathParams:
		return keyParams, nil, nil
	case protocol.PathModel:
		if q.HasRound {
			return modelKey(q.Task, q.Round), nil, nil
		}
		var t pb.Task
		ok, err := module.Load(r, taskKey(q.Task), &t)
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return "", nil, fmt.Errorf("%w: task %d does not exist", protocol.ErrNotFound, q.Task)
		}
		return modelKey(q.Task, t.ModelRound), nil, nil
	case protocol.PathTasks:
		var l pb.TaskList
		for _, k := range r.KeysWithPrefix("t/") {
			var t pb.Task
			if _, err := module.Load(r, k, &t); err != nil {
				return "", nil, err
			}
			l.Tasks = append(l.Tasks, t)
		}
		bz, err := l.Marshal()
		return "", bz, err
	}
	return "", nil, fmt.Errorf("%w: %s", protocol.ErrUnknownQuery, q.Path)
}
