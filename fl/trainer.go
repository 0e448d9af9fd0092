package fl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Trainer is a hospital's side of a task: each round it reads the global
// model from the chain, scores it on local test data, trains on local data,
// commits to the quantized update, reveals it once the reveal phase opens,
// and waits for the next round. Patient data never leaves it: only the
// update and the metrics go on chain.
type Trainer struct {
	Name   string
	Client *Client
	Data   datasets.Hospital
	// Train overrides the task's training hints when set.
	Train *TrainConfig
	// Seed makes local training reproducible; each round derives its own.
	Seed uint64
	// OnEvent, when set, is told of every step (for progress output).
	OnEvent func(Event)
}

// Event is one step of a trainer.
type Event struct {
	Hospital string
	Task     uint64
	Round    uint32
	Stage    string // "committed", "revealed", "missed", "retrying"
	Height   int64
	Metrics  Metrics // of the round's global model on local test data
	Err      error   // for "missed": why
}

func (t *Trainer) emit(e Event) {
	if t.OnEvent != nil {
		e.Hospital = t.Name
		t.OnEvent(e)
	}
}

// Run takes part in task id until it finishes or ctx ends.
func (t *Trainer) Run(ctx context.Context, id uint64) error {
	c := t.Client
	me := c.PubKey()
	pendingReveal := map[uint32][]byte{}
	for {
		err := t.step(ctx, id, me, pendingReveal)
		if errors.Is(err, errTaskDone) {
			return nil
		}
		if errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
			// The node is down or restarting: keep the pending reveal and retry.
			t.emit(Event{Task: id, Stage: "retrying", Err: err})
			if err := sleep(ctx, RetryInterval); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// RetryInterval is how long a trainer waits before retrying an unreachable node.
var RetryInterval = 500 * time.Millisecond

var errTaskDone = errors.New("task done")

// step does the next thing the chain's state calls for, or waits a poll interval.
func (t *Trainer) step(ctx context.Context, id uint64, me []byte, pendingReveal map[uint32][]byte) error {
	c := t.Client
	task, err := c.Task(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// The task may be in a block this node has not committed yet.
		return sleep(ctx, c.PollInterval)
	}
	if err != nil {
		return err
	}
	if !invited(task, me) {
		return fmt.Errorf("fl: %s is not invited to task %d", t.Name, id)
	}
	if task.Status == pb.TASK_STATUS_DONE {
		return errTaskDone
	}
	r := task.CurrentRound
	rd, err := c.Round(ctx, id, r)
	if err != nil {
		return err
	}
	var mine *pb.Submission
	for i := range rd.Submissions {
		if bytes.Equal(rd.Submissions[i].Hospital, me) {
			mine = &rd.Submissions[i]
		}
	}
	switch {
	case rd.Phase == pb.PHASE_COMMIT && mine == nil:
		return t.commit(ctx, task, rd, pendingReveal)
	case rd.Phase == pb.PHASE_REVEAL && mine != nil && !mine.Revealed && pendingReveal[r] != nil:
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: id, Round: r, Update: pendingReveal[r]}}})
		if err != nil {
			if !errors.Is(err, chain.ErrRoundClosed) && !errors.Is(err, chain.ErrDuplicate) {
				return err
			}
			t.emit(Event{Task: id, Round: r, Stage: "missed", Err: err})
		} else {
			t.emit(Event{Task: id, Round: r, Stage: "revealed", Height: inc.Height})
		}
		delete(pendingReveal, r)
		return nil
	}
	return sleep(ctx, c.PollInterval)
}

func (t *Trainer) commit(ctx context.Context, task *pb.Task, rd *pb.Round, pending map[uint32][]byte) error {
	c := t.Client
	spec := task.Spec
	model, err := c.Model(ctx, task.Id, task.ModelRound)
	if err != nil {
		return err
	}
	if !bytes.Equal(model.Hash, rd.InputModelHash) {
		return fmt.Errorf("fl: model of round %d has hash %X, round %d opened on %X", task.ModelRound, model.Hash, rd.Round, rd.InputModelHash)
	}
	global, err := ModelParams(model)
	if err != nil {
		return err
	}
	metrics, err := Evaluate(spec.Model, global, t.Data.Test)
	if err != nil {
		return err
	}
	cfg := FromHints(spec.Training)
	if t.Train != nil {
		cfg = *t.Train
	}
	cfg.Seed = roundSeed(t.Seed, t.Name, task.Id, rd.Round)
	local, err := Train(spec.Model, global, t.Data.Train, cfg)
	if err != nil {
		return fmt.Errorf("fl: %s round %d: %w", t.Name, rd.Round, err)
	}
	update, err := EncodeUpdate(local, global, spec.FracBits, pb.WIDTH_INT32)
	if err != nil {
		return err
	}
	h := sha256.Sum256(update)
	inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{
		TaskId: task.Id, Round: rd.Round, UpdateHash: h[:], NumSamples: uint64(t.Data.Train.Len()),
		Metrics: metrics.ToProto(),
	}}})
	if err != nil {
		if errors.Is(err, chain.ErrRoundClosed) || errors.Is(err, chain.ErrDuplicate) {
			t.emit(Event{Task: task.Id, Round: rd.Round, Stage: "missed", Err: err})
			return sleep(ctx, c.PollInterval)
		}
		return err
	}
	pending[rd.Round] = update
	t.emit(Event{Task: task.Id, Round: rd.Round, Stage: "committed", Height: inc.Height, Metrics: metrics})
	return nil
}

func invited(task *pb.Task, pub []byte) bool {
	for _, h := range task.Spec.Hospitals {
		if bytes.Equal(h, pub) {
			return true
		}
	}
	return false
}

func roundSeed(seed uint64, name string, task uint64, round uint32) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(name))
	binary.BigEndian.PutUint64(b[:], task)
	h.Write(b[:])
	binary.BigEndian.PutUint32(b[:4], round)
	h.Write(b[:4])
	return binary.BigEndian.Uint64(h.Sum(nil))
}
