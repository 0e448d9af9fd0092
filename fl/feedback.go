package fl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Validation feedback (a task with feedback, docs/robustness.md): from
// round 2 each hospital scores the previous round's revealed updates on
// its own rows and sends the scores with its commitment; the chain judges
// an update harmful when most of its scorers found it worse than its
// opposite.

// MaxVerdict bounds a verdict: the chain clamps every score to ±MaxVerdict.
const MaxVerdict = 1_000_000

// UpdateVerdict is one hospital's verdict on another's update delta from
// the model w it was trained on, on the hospital's rows t: the mean
// log-loss of w + delta⊥ less that of w − delta⊥, each model's output bias
// refitted to t, in millionths, clamped to ±MaxVerdict, where delta⊥ is
// delta less its component along w's weights (Orthogonal). Positive means
// the update made these rows worse than its opposite would have. It is 0,
// no opinion, when the two models rank the rows equally well (the same
// AUC): near a converged model they differ by a sliver of log-loss whose
// sign means nothing for these patients.
//
// The comparison asks about the update's direction only. Against the
// round's aggregate, an update from a hospital whose patients differ is
// worse by construction; against not moving, the long local run of a
// small hospital overshoots and is worse too (docs/robustness.md). Near
// the federation's optimum every step helps some hospitals and hurts
// others, so the chain reads verdicts against the round's typical update
// (aggregator, feedback.go).
//
// The component along w is left out because it changes how confident
// the model is, not whom it ranks higher, and it skews the comparison: an
// update that mostly makes the model less confident (a hospital with very
// few, or very many, positive patients does that) leaves w + delta less
// sure of its direction than w − delta, which then wins for most scorers
// though the update turns the model no worse than anyone's. With the
// component out, the two models are equally confident and differ only in
// the turn the update gives. From a model of zero weights (a first round)
// there is no such component.
//
// The output bias is refitted because an update also carries its
// hospital's share of positives (in the bias, and through the weights
// times its mean features), which differs between honest hospitals: one
// with almost no positive patients pushes every prediction down. With the
// bias refitted, what is compared is how well each model ranks the
// scorer's patients, calibrated to them. Rows of one class rank nothing:
// UpdateVerdict refuses them.
func UpdateVerdict(spec pb.ModelSpec, w, delta []float64, t datasets.Table) (int64, error) {
	if len(w) != len(delta) || len(w) == 0 {
		return 0, fmt.Errorf("fl: verdict on an update of %d values for a model of %d", len(delta), len(w))
	}
	if pos := t.Positives(); pos == 0 || pos == t.Len() {
		return 0, fmt.Errorf("fl: verdict on %d rows of one class: they rank nothing", t.Len())
	}
	delta = Orthogonal(w, delta)
	plus, minus := make([]float64, len(w)), make([]float64, len(w))
	for i := range w {
		plus[i], minus[i] = w[i]+delta[i], w[i]-delta[i]
	}
	la, za := refitLosses(spec, plus, t)
	lb, zb := refitLosses(spec, minus, t)
	d := 0.0
	for i := range la {
		d += la[i] - lb[i]
	}
	d = d / float64(len(la)) * 1e6
	differ := auc(za, t.Y) != auc(zb, t.Y) // exact: rank sums of halves
	switch {
	case math.IsNaN(d):
		return 0, errors.New("fl: verdict is not a number (the model overflows on these rows)")
	case !differ:
		return 0, nil
	case d > MaxVerdict:
		return MaxVerdict, nil
	case d < -MaxVerdict:
		return -MaxVerdict, nil
	}
	return int64(math.Round(d)), nil
}

// Orthogonal returns delta less its projection on w's weights (every
// parameter but the last, the output bias, which UpdateVerdict refits): a
// new slice; delta itself when w's weights are all zero.
func Orthogonal(w, delta []float64) []float64 {
	n := min(len(w), len(delta)) - 1
	var dw, ww float64
	for i := 0; i < n; i++ {
		dw += delta[i] * w[i]
		ww += w[i] * w[i]
	}
	if ww == 0 {
		return delta
	}
	c := dw / ww
	out := slices.Clone(delta)
	for i := 0; i < n; i++ {
		out[i] -= c * w[i]
	}
	return out
}

// refitLosses are the model's log-losses on t's rows, and its logits,
// with its output bias moved by the offset that minimises their mean
// (damped Newton on a convex function of one variable; offsets beyond
// ±50 are not taken).
func refitLosses(spec pb.ModelSpec, params []float64, t datasets.Table) (loss, logit []float64) {
	z := make([]float64, t.Len())
	for i, x := range t.X {
		z[i] = Logit(spec, params, x)
	}
	c := 0.0
	for range 100 {
		g, h := 0.0, 0.0
		for i, zi := range z {
			p := 1 / (1 + math.Exp(-(zi + c)))
			g += p - t.Y[i]
			h += p * (1 - p)
		}
		if h < 1e-12 {
			break
		}
		step := max(-1, min(1, g/h))
		c = max(-50, min(50, c-step))
		if math.Abs(step) < 1e-9 {
			break
		}
	}
	loss = make([]float64, len(z))
	for i := range z {
		z[i] += c
		v := z[i]
		loss[i] = math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) - t.Y[i]*v
	}
	return loss, z
}

// Scorer is what a simulation may change in a trainer's verdicts (package
// sim's lying scorers implement it on their Hook). A Hook that is not a
// Scorer scores honestly.
type Scorer interface {
	// Scores returns the scores to send in place of the honest ones.
	Scores(task uint64, round uint32, honest []pb.UpdateScore) []pb.UpdateScore
}

// Revealed is one hospital's revealed update of a round, read from the
// block that holds its reveal and checked against its commitment.
type Revealed struct {
	Hospital []byte
	Delta    []float64
}

// RevealedUpdates reads the updates revealed in a closed round of a task,
// other than skip's, from the blocks their reveals are in, and checks
// each against its commitment in the round record (which the client
// verifies when it has a Verifier). Chunked reveals and reveals whose
// block the node no longer has are left out and said in missing.
func (c *Client) RevealedUpdates(ctx context.Context, task uint64, rd *pb.Round, skip []byte) (ups []Revealed, missing []string, err error) {
	blocks := map[int64][][]byte{}
	for _, s := range rd.Submissions {
		if !s.Revealed || bytes.Equal(s.Hospital, skip) {
			continue
		}
		if len(s.ChunkHashes) > 0 {
			missing = append(missing, fmt.Sprintf("%X: revealed in chunks", s.Hospital[:4]))
			continue
		}
		txs, ok := blocks[s.RevealHeight]
		if !ok {
			h := s.RevealHeight
			res, err := c.rpc.Block(ctx, &h)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if err != nil || res == nil || res.Block == nil {
				missing = append(missing, fmt.Sprintf("%X: block %d unavailable: %v", s.Hospital[:4], h, err))
				blocks[h] = nil
				continue
			}
			txs = res.Block.Txs.ToSliceOfBytes()
			blocks[h] = txs
		}
		delta, err := c.findReveal(txs, task, rd.Round, &s)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%X: %v", s.Hospital[:4], err))
			continue
		}
		ups = append(ups, Revealed{Hospital: s.Hospital, Delta: delta})
	}
	return ups, missing, nil
}

// findReveal finds s's reveal among a block's transactions and checks it.
func (c *Client) findReveal(txs [][]byte, task uint64, round uint32, s *pb.Submission) ([]float64, error) {
	for _, bz := range txs {
		tx, msg, err := pb.DecodeTx(bz)
		if err != nil || !bytes.Equal(tx.Signer, s.Hospital) {
			continue
		}
		rv, ok := msg.Sum.(*pb.Msg_RevealUpdate)
		if !ok || rv.RevealUpdate.TaskId != task || rv.RevealUpdate.Round != round {
			continue
		}
		m := rv.RevealUpdate
		if !bytes.Equal(protocol.UpdateCommitment(c.chainID, task, round, s.Hospital, m.Salt, m.Update), s.UpdateHash) {
			return nil, errors.New("the reveal in its block does not match its commitment")
		}
		return DecodeUpdate(m.Update)
	}
	return nil, fmt.Errorf("no reveal in block %d", s.RevealHeight)
}

// inputModel returns the global model a closed round was trained from.
func (c *Client) inputModel(ctx context.Context, task uint64, rd *pb.Round) ([]float64, error) {
	for k := int64(rd.Round) - 1; k >= 0; k-- {
		m, err := c.Model(ctx, task, uint32(k))
		if errors.Is(err, ErrNotFound) {
			continue // a round that did not aggregate has no model
		}
		if err != nil {
			return nil, err
		}
		if bytes.Equal(m.Hash, rd.InputModelHash) {
			return ModelParams(m)
		}
	}
	return nil, fmt.Errorf("fl: no model of task %d has hash %X, the input of round %d", task, rd.InputModelHash, rd.Round)
}

// feedback scores the previous round's revealed updates for a commitment
// to round of task (nil before round 2 or without feedback).
func (t *Trainer) feedback(ctx context.Context, task *pb.Task, round uint32) ([]pb.UpdateScore, error) {
	if !task.Spec.Feedback || round < 2 {
		return nil, nil
	}
	c := t.Client
	prev, err := c.Round(ctx, task.Id, round-1)
	if err != nil {
		return nil, err
	}
	w, err := c.inputModel(ctx, task.Id, prev)
	if err != nil {
		return nil, err
	}
	ups, missing, err := c.RevealedUpdates(ctx, task.Id, prev, c.PubKey())
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		t.emit(Event{Task: task.Id, Round: round, Stage: "abstained", Err: fmt.Errorf("not scored: %v", missing)})
	}
	scores := make([]pb.UpdateScore, 0, len(ups))
	for _, u := range ups {
		v, err := UpdateVerdict(task.Spec.Model, w, u.Delta, t.Data.Train)
		if err != nil {
			t.emit(Event{Task: task.Id, Round: round, Stage: "abstained", Err: fmt.Errorf("not scored %X: %w", u.Hospital[:4], err)})
			continue
		}
		scores = append(scores, pb.UpdateScore{Hospital: u.Hospital, LossDiffPpm: v})
	}
	if s, ok := t.Hook.(Scorer); ok {
		scores = s.Scores(task.Id, round-1, scores)
	}
	sort.Slice(scores, func(i, j int) bool { return bytes.Compare(scores[i].Hospital, scores[j].Hospital) < 0 })
	return scores, nil
}
