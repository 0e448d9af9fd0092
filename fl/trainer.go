package fl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
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
	// Pending keeps each committed update until it is revealed; a
	// DirPending survives a restart of the trainer. Nil keeps them in memory.
	Pending PendingStore
	// Hook, when set, may change what the trainer sends: simulations
	// (package sim) make hospitals malicious through it. Nil is honest.
	Hook Hook
	// ChunkSize is the largest reveal transaction body: a larger encoded
	// update is committed with chunk hashes and revealed in chunks of at
	// most this size. Zero means DefaultChunkSize.
	ChunkSize int
	// DataAnchor is the hospital's dataset anchor (the record that anchors the
	// dataset it trains on, and its research grant to the task's creator).
	// A task with a data_scope takes commitments only with it; the
	// trainer sends it with each commitment to such a task (the chain
	// keeps the first and accepts the same again).
	DataAnchor *pb.DataAnchor

	lost map[uint32]bool // rounds whose update was lost (cannot reveal)
}

// Hook is what a simulation may change in a trainer's round (package sim
// implements its attacks with it). The trainer calls it; nil is honest.
type Hook interface {
	// Update returns the model to encode in place of the honest local one.
	Update(ctx context.Context, in UpdateInput) ([]float64, error)
	// Samples returns the sample count to claim, given the true one.
	Samples(actual uint64) uint64
	// Reveal reports whether to reveal the update committed in a round.
	Reveal(task uint64, round uint32) bool
}

// UpdateInput is what Hook.Update sees of a round.
type UpdateInput struct {
	Task          *pb.Task
	Round         uint32
	Global, Local []float64
	// PrevGlobal reads the global model before Global (nil in round 1).
	PrevGlobal func(ctx context.Context) ([]float64, error)
}

// DefaultChunkSize keeps every reveal transaction within CometBFT's stock
// limits (1 MiB transactions, 1 MB RPC bodies with base64 inflating 4/3).
const DefaultChunkSize = 512 << 10

// chunks returns how many chunks an encoded update of n bytes goes in
// (0: one RevealUpdate).
func (t *Trainer) chunks(n int) int {
	size := t.ChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	if n <= size {
		return 0
	}
	return (n + size - 1) / size
}

// Event is one step of a trainer.
type Event struct {
	Hospital string
	Task     uint64
	Round    uint32
	Stage    string // "committed", "revealed", "missed", "retrying", "reported" (the final model's metrics), "abstained" (updates not scored, Err says why)
	Height   int64
	Metrics  Metrics // of the round's global model on local test data
	Err      error   // for "missed": why
	// UpdateBytes is the size of the encoded update ("committed").
	UpdateBytes int
}

func (t *Trainer) emit(e Event) {
	if t.OnEvent != nil {
		e.Hospital = t.Name
		t.OnEvent(e)
	}
}

// ErrCannotTrain means a hospital's data cannot train a task's model (the
// model takes another number of inputs, or there are no rows): a trainer
// serving several tasks skips that one and keeps serving the others.
var ErrCannotTrain = errors.New("fl: this hospital's data cannot train the task's model")

// CanTrain checks that hospital's data fits task's model: rows to train
// on, and as many features in every table as the model takes inputs.
func CanTrain(task *pb.Task, hospital string, data datasets.Hospital) error {
	want := int(task.Spec.Model.InputDim)
	if data.Train.Len() == 0 {
		return fmt.Errorf("%w: task %d: %s has no training rows", ErrCannotTrain, task.Id, hospital)
	}
	for _, tb := range []struct {
		name string
		t    datasets.Table
	}{{"training", data.Train}, {"test", data.Test}} {
		for i, row := range tb.t.X {
			if len(row) != want {
				return fmt.Errorf("%w: task %d's model takes %d inputs; %s's %s row %d has %d features (does the task name another data set, or did the CSV gain or lose a column?)",
					ErrCannotTrain, task.Id, want, hospital, tb.name, i+1, len(row))
			}
		}
	}
	return nil
}

// Run takes part in task id until it finishes or ctx ends.
func (t *Trainer) Run(ctx context.Context, id uint64) error {
	c := t.Client
	me := c.PubKey()
	if t.Pending == nil {
		t.Pending = NewMemPending()
	}
	t.lost = map[uint32]bool{}
	wait := RetryInterval
	for {
		err := t.step(ctx, id, me)
		if errors.Is(err, errTaskDone) {
			return nil
		}
		if errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
			// The node is down or restarting, or the network lost quorum:
			// keep the pending reveal, say so, and retry while the task is
			// open, backing off to MaxRetryInterval.
			t.emit(Event{Task: id, Stage: "retrying", Err: err})
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			wait = min(2*wait, MaxRetryInterval)
			continue
		}
		if err != nil {
			return err
		}
		wait = RetryInterval
	}
}

// reportFinal sends the hospital's test metrics of a finished task's
// final model, unless it did already (no round scores the final model).
func (t *Trainer) reportFinal(ctx context.Context, task *pb.Task, me []byte) error {
	for _, f := range task.FinalMetrics {
		if string(f.Hospital) == string(me) {
			return nil
		}
	}
	if t.Data.Test.Len() == 0 {
		return nil
	}
	gm, err := t.Client.Model(ctx, task.Id, task.ModelRound)
	if err != nil {
		return err
	}
	params, err := ModelParams(gm)
	if err != nil {
		return err
	}
	m, err := Evaluate(task.Spec.Model, params, t.Data.Test)
	if err != nil {
		return nil // the model does not fit this hospital's data: nothing to report
	}
	inc, err := t.Client.Submit(ctx, &pb.Msg{Sum: &pb.Msg_ReportMetrics{ReportMetrics: &pb.ReportMetrics{TaskId: task.Id, Metrics: m.ToProto()}}})
	if errors.Is(err, protocol.ErrDuplicate) {
		return nil
	}
	if err != nil {
		return err
	}
	t.emit(Event{Task: task.Id, Round: task.CurrentRound, Stage: "reported", Height: inc.Height, Metrics: m})
	return nil
}

// RetryInterval is how long a trainer first waits before retrying an
// unreachable node or a network that makes no blocks; the wait doubles up
// to MaxRetryInterval, so the trainer says at least that often what it is
// waiting for.
var RetryInterval = 500 * time.Millisecond

// MaxRetryInterval caps the trainer's wait between retries.
const MaxRetryInterval = 10 * time.Second

var errTaskDone = errors.New("task done")

// ErrTaskCancelled is what Run returns for a task its creator or an admin
// cancelled; the message carries who, when and why.
var ErrTaskCancelled = errors.New("fl: task cancelled")

// step does the next thing the chain's state calls for, or waits a poll interval.
func (t *Trainer) step(ctx context.Context, id uint64, me []byte) error {
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
		if err := t.reportFinal(ctx, task, me); err != nil {
			return err
		}
		return errTaskDone
	}
	if task.Status == pb.TASK_STATUS_CANCELLED {
		return fmt.Errorf("%w: task %d was %s", ErrTaskCancelled, id, task.CancelNote)
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
		return t.commit(ctx, task, rd)
	case rd.Phase == pb.PHASE_REVEAL && mine != nil && !mine.Revealed && !t.lost[r] && t.Hook != nil && !t.Hook.Reveal(id, r):
		t.lost[r] = true
		t.emit(Event{Task: id, Round: r, Stage: "withheld"})
		return nil
	case rd.Phase == pb.PHASE_REVEAL && mine != nil && !mine.Revealed && !t.lost[r]:
		update, err := t.Pending.Get(id, r)
		if err != nil {
			return err
		}
		if update == nil {
			// Committed, but the update is gone (a restart without a
			// DirPending): nothing to reveal this round.
			t.lost[r] = true
			t.emit(Event{Task: id, Round: r, Stage: "missed", Err: errors.New("the committed update was lost; keep it in a --home to survive restarts")})
			return nil
		}
		inc, err := t.reveal(ctx, id, r, mine, update)
		if err != nil {
			if !errors.Is(err, protocol.ErrRoundClosed) && !errors.Is(err, protocol.ErrDuplicate) {
				return err
			}
			t.emit(Event{Task: id, Round: r, Stage: "missed", Err: err})
		} else {
			t.emit(Event{Task: id, Round: r, Stage: "revealed", Height: inc.Height})
		}
		return t.Pending.Delete(id, r)
	}
	return sleep(ctx, c.PollInterval)
}

func (t *Trainer) commit(ctx context.Context, task *pb.Task, rd *pb.Round) error {
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
	if err := CanTrain(task, t.Name, t.Data); err != nil {
		return err
	}
	metrics, err := Evaluate(spec.Model, global, t.Data.Test)
	if err != nil {
		return err
	}
	// An update kept from before a restart is committed as it is: its hash
	// may already be on chain.
	update, err := t.Pending.Get(task.Id, rd.Round)
	if err != nil {
		return err
	}
	if update == nil {
		cfg := FromHints(spec.Training)
		if t.Train != nil {
			cfg = *t.Train
		}
		cfg.Seed = roundSeed(t.Seed, t.Name, task.Id, rd.Round)
		local, err := Train(spec.Model, global, t.Data.Train, cfg)
		if err != nil {
			return fmt.Errorf("fl: %s round %d: %w", t.Name, rd.Round, err)
		}
		if t.Hook != nil {
			in := UpdateInput{Task: task, Round: rd.Round, Global: global, Local: local}
			if task.ModelRound >= 1 {
				in.PrevGlobal = func(ctx context.Context) ([]float64, error) {
					prev, err := c.Model(ctx, task.Id, task.ModelRound-1)
					if err != nil {
						return nil, err
					}
					return ModelParams(prev)
				}
			}
			if local, err = t.Hook.Update(ctx, in); err != nil {
				return err
			}
		}
		if update, err = EncodeTaskUpdate(&spec, local, global); err != nil {
			return err
		}
		if err := t.Pending.Put(task.Id, rd.Round, update); err != nil {
			return err
		}
	}
	samples := uint64(t.Data.Train.Len())
	if t.Hook != nil {
		samples = t.Hook.Samples(samples)
	}
	scores, err := t.feedback(ctx, task, rd.Round)
	if err != nil {
		return fmt.Errorf("fl: %s round %d: scoring the previous round's updates: %w", t.Name, rd.Round, err)
	}
	commit := &pb.CommitUpdate{TaskId: task.Id, Round: rd.Round, UpdateHash: c.Commitment(task.Id, rd.Round, update), NumSamples: samples, Metrics: metrics.ToProto(), Scores: scores}
	if task.Spec.DataScope != "" {
		if t.DataAnchor == nil {
			return fmt.Errorf("%w: task %d trains only on anchored data (data_scope %q): give the trainer its dataset anchor and research grant (fedledger train --data-anchor INDEX:LEAF --data-grant N)", ErrCannotTrain, task.Id, task.Spec.DataScope)
		}
		commit.Data = t.DataAnchor
	}
	if n := t.chunks(len(update)); n > 0 {
		for _, part := range SplitChunks(update, n) {
			ph := sha256.Sum256(part)
			commit.ChunkHashes = append(commit.ChunkHashes, ph[:])
		}
	}
	inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: commit}})
	if err != nil {
		if errors.Is(err, protocol.ErrRoundClosed) || errors.Is(err, protocol.ErrDuplicate) {
			t.emit(Event{Task: task.Id, Round: rd.Round, Stage: "missed", Err: err})
			return sleep(ctx, c.PollInterval)
		}
		if errors.Is(err, protocol.ErrUnauthorized) && t.flagged(ctx, task.Id) {
			// Flagged by the chain's reputation (the refusal's code, then
			// the reputation record on chain, say so): wait for the next
			// round (an admin may reinstate the hospital).
			t.emit(Event{Task: task.Id, Round: rd.Round, Stage: "flagged", Err: err})
			return t.waitRoundEnd(ctx, task.Id, rd.Round)
		}
		return err
	}
	t.emit(Event{Task: task.Id, Round: rd.Round, Stage: "committed", Height: inc.Height, Metrics: metrics, UpdateBytes: len(update)})
	return nil
}

// reveal sends the committed update: whole, or in the chunks the
// commitment announced (the chunk count on chain decides the split, so a
// restarted trainer with another ChunkSize reveals what it committed).
func (t *Trainer) reveal(ctx context.Context, id uint64, r uint32, mine *pb.Submission, update []byte) (*Included, error) {
	if len(mine.ChunkHashes) == 0 {
		return t.Client.Submit(ctx, &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: id, Round: r, Update: update, Salt: t.Client.Salt(id, r, update)}}})
	}
	parts := SplitChunks(update, len(mine.ChunkHashes))
	salt := t.Client.Salt(id, r, update)
	msgs := make([]*pb.Msg, len(parts))
	for i, p := range parts {
		if h := sha256.Sum256(p); !bytes.Equal(h[:], mine.ChunkHashes[i]) {
			return nil, fmt.Errorf("fl: %s: chunk %d of the kept update does not match the commitment of round %d", t.Name, i, r)
		}
		msgs[i] = &pb.Msg{Sum: &pb.Msg_RevealChunk{RevealChunk: &pb.RevealChunk{TaskId: id, Round: r, Index: uint32(i), Data: p, Salt: salt}}}
	}
	var last *Included
	for _, res := range t.Client.SubmitAll(ctx, msgs) {
		switch {
		case res.Err != nil && errors.Is(res.Err, protocol.ErrDuplicate):
			// Sent before a restart: already on chain.
		case res.Err != nil:
			return nil, res.Err
		case last == nil || res.Included.Height > last.Height:
			last = res.Included
		}
	}
	if last == nil {
		return nil, fmt.Errorf("%w: every chunk of round %d was already in", protocol.ErrDuplicate, r)
	}
	return last, nil
}

// flagged reports whether the chain's reputation record of task flags
// this hospital.
func (t *Trainer) flagged(ctx context.Context, task uint64) bool {
	rep, err := t.Client.Reputation(ctx, task)
	if err != nil {
		return false
	}
	me := t.Client.PubKey()
	for _, sc := range rep.Scores {
		if bytes.Equal(sc.Hospital, me) {
			return sc.Flagged
		}
	}
	return false
}

// waitRoundEnd waits until round is closed or the task moved on.
func (t *Trainer) waitRoundEnd(ctx context.Context, id uint64, round uint32) error {
	_, err := t.Client.WaitRound(ctx, id, round, pb.PHASE_CLOSED)
	return err
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
