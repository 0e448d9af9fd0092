package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
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
// hospital, and closes the round. It streams: the updates, the previous
// model and the server optimizer's moments are read a block at a time in
// place, and the new model and moments are written straight into their
// records, so the close holds no update whole (see aggregator.StreamRound).
func (c exec) aggregate(task *pb.Task, rd *pb.Round) (bool, error) {
	rule, err := aggregator.NewRule(task.Spec.Rule, protocol.RuleParams(&task.Spec))
	if err != nil {
		return false, fmt.Errorf("%w: %v", protocol.ErrInternal, err)
	}
	prevBz, release, err := c.State.View(modelKey(task.Id, task.ModelRound))
	if err != nil {
		return false, fmt.Errorf("%w: read model: %v", protocol.ErrInternal, err)
	}
	defer release()
	prev, err := pb.ViewGlobalModel(prevBz)
	if err != nil || prevBz == nil {
		return false, fmt.Errorf("%w: model of round %d of task %d missing or unreadable: %v", protocol.ErrInternal, task.ModelRound, task.Id, err)
	}
	prevBlocks, err := newVectorBlocks(prev.Weights)
	if err != nil {
		return false, fmt.Errorf("%w: stored model: %v", protocol.ErrInternal, err)
	}
	d := prev.Weights.Len
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
	var pubs [][]byte // of the revealed, in order
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
		if s.Revealed {
			members[i].Revealed = true
			pubs = append(pubs, h)
		}
	}
	if task.Spec.Feedback {
		if err := c.feedback(task, rd, members); err != nil {
			return false, err
		}
	}
	src, err := c.updateSource(task.Id, rd.Round, pubs, d)
	if err != nil {
		return false, err
	}
	opt, err := c.newServerOpt(task, d)
	if err != nil {
		return false, err
	}
	defer opt.release()
	var rec pb.ModelRecord
	begin := func() {
		rec = pb.NewModelRecord(task.Id, rd.Round, prev.Weights.FracBits, prev.Weights.Width, int(d))
		opt.begin()
	}
	lo, hi := prev.Weights.Width.Bounds()
	emit := func(at int, agg []int64) error {
		if opt.err != nil {
			return nil // the round fails once scored
		}
		w, sb := int64Pool.Get().(*[]int64), int64Pool.Get().(*[]int64)
		defer int64Pool.Put(w)
		defer int64Pool.Put(sb)
		model := (*w)[:len(agg)]
		if err := prevBlocks.decode(prev.Weights.Data, true, at, model); err != nil {
			return err
		}
		step, err := opt.step(at, agg, *sb)
		if err != nil {
			return err
		}
		aggregator.AddSaturatingInto(model, model, step, lo, hi)
		rec.Weights.Put(at, model)
		return nil
	}
	if c.BeforeAggregate != nil {
		c.BeforeAggregate()
	}
	out, err := aggregator.StreamRound(members, int(d), src, rule, task.Spec.Reputation, sketchSeed(task, rd), emit, begin)
	if errors.Is(err, protocol.ErrInternal) {
		return false, err
	}
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
	if !out.Aggregated {
		return c.closeRound(task, rd, "skipped: no update left once flagged and sybil hospitals were excluded")
	}
	if opt.err != nil {
		return c.failRound(task, rd, fmt.Errorf("%w: server optimizer: %v", errRoundFailed, opt.err))
	}
	hash := rec.Seal()
	c.State.Set(modelKey(task.Id, rd.Round), rec.Bytes)
	opt.save()
	task.ModelHash = hash
	task.ModelRound = rd.Round
	rd.NumAggregated = uint32(out.Used)
	return c.closeRound(task, rd, "aggregated")
}

// feedback gives each member the verdicts on its update of the previous
// round that this round's commitments carry (checked when committed: each
// names a hospital that revealed then; kept under verdictsKey).
func (c exec) feedback(task *pb.Task, rd *pb.Round, members []aggregator.Member) error {
	fb := make([]aggregator.Feedback, len(members))
	for i := range members {
		fb[i].Round = rd.Round - 1
		members[i].Feedback = &fb[i]
	}
	for _, sub := range rd.Submissions {
		var v pb.Verdicts
		ok, err := c.State.Load(verdictsKey(task.Id, rd.Round, sub.Hospital), &v)
		if err != nil {
			return fmt.Errorf("%w: verdicts of round %d of task %d: %v", protocol.ErrInternal, rd.Round, task.Id, err)
		}
		if !ok {
			continue
		}
		by := hospitalIndex(task, sub.Hospital)
		for _, sc := range v.Scores {
			// Both are invited (refused at commit otherwise); -1 never comes.
			if i := hospitalIndex(task, sc.Hospital); i >= 0 && by >= 0 {
				fb[i].Scores = append(fb[i].Scores, sc.LossDiffPpm)
				fb[i].Scorers = append(fb[i].Scorers, by)
			}
		}
	}
	return nil
}

// serverOpt runs the task's server optimizer a block at a time: it reads
// the stored moments in place and writes the new ones into their record.
type serverOpt struct {
	c        exec
	task     uint64
	p        aggregator.ServerOptParams
	on       bool  // an optimizer other than fedavg
	err      error // its parameters or state are unusable: the round fails
	m, v     *vectorBlocks
	mData    []byte
	vData    []byte
	release  func()
	rec      []byte
	mOut     pb.DenseSlot
	vOut     pb.DenseSlot
	fracBits uint32
	d        uint32
}

func (c exec) newServerOpt(task *pb.Task, d uint32) (*serverOpt, error) {
	o := &serverOpt{c: c, task: task.Id, p: protocol.ServerOptParams(&task.Spec), fracBits: task.Spec.FracBits, d: d, release: func() {}}
	o.on = o.p.Name != "" && o.p.Name != "fedavg"
	if !o.on {
		return o, nil
	}
	if o.err = o.p.Validate(); o.err != nil {
		return o, nil
	}
	bz, release, err := c.State.View(serverOptKey(task.Id))
	if err != nil {
		return nil, fmt.Errorf("%w: read server optimizer state: %v", protocol.ErrInternal, err)
	}
	o.release = release
	if bz == nil {
		return o, nil // the first round: moments of zero
	}
	st, err := pb.ViewServerOptState(bz)
	if err != nil {
		return nil, fmt.Errorf("%w: server optimizer state: %v", protocol.ErrInternal, err)
	}
	if st.M.Len != d {
		o.err = fmt.Errorf("%w: momentum has %d values, update %d", aggregator.ErrServerOpt, st.M.Len, d)
		return o, nil
	}
	if o.m, err = newVectorBlocks(st.M); err != nil {
		return nil, fmt.Errorf("%w: server optimizer state: %v", protocol.ErrInternal, err)
	}
	o.mData = st.M.Data
	if o.p.Name != "fedavgm" {
		if st.V.Len != d {
			o.err = fmt.Errorf("%w: second moment has %d values, update %d", aggregator.ErrServerOpt, st.V.Len, d)
			return o, nil
		}
		if o.v, err = newVectorBlocks(st.V); err != nil {
			return nil, fmt.Errorf("%w: server optimizer state: %v", protocol.ErrInternal, err)
		}
		o.vData = st.V.Data
	}
	return o, nil
}

// begin lays out the new moments' record.
func (o *serverOpt) begin() {
	if o.on && o.err == nil {
		o.rec, o.mOut, o.vOut = pb.NewServerOptRecord(o.fracBits, int(o.d), o.p.Name != "fedavgm")
	}
}

// step turns the block of the aggregate at coordinate at into the
// model's step (agg itself for fedavg, else written to out), writing the
// new moments.
func (o *serverOpt) step(at int, agg, out []int64) ([]int64, error) {
	if !o.on {
		return agg, nil
	}
	n := len(agg)
	var bufs [4]*[]int64
	for i := range bufs {
		bufs[i] = int64Pool.Get().(*[]int64)
		defer int64Pool.Put(bufs[i])
	}
	m, v, nm, nv := (*bufs[0])[:n], (*bufs[1])[:n], (*bufs[2])[:n], (*bufs[3])[:n]
	clear(m)
	clear(v)
	if o.m != nil {
		if err := o.m.decode(o.mData, true, at, m); err != nil {
			return nil, err
		}
	}
	if o.v != nil {
		if err := o.v.decode(o.vData, true, at, v); err != nil {
			return nil, err
		}
	}
	if o.p.Name == "fedavgm" {
		nv = nil
	}
	out = out[:n]
	aggregator.ServerStepBlock(o.p, m, v, agg, out, nm, nv)
	o.mOut.Put(at, nm)
	if nv != nil {
		o.vOut.Put(at, nv)
	}
	return out, nil
}

// save stores the new moments.
func (o *serverOpt) save() {
	if o.rec != nil {
		o.c.State.Set(serverOptKey(o.task), o.rec)
	}
}

// reinstate clears a hospital's flag (admins only).
func (c exec) reinstate(signer *pb.Participant, m *pb.Reinstate) error {
	if err := module.RequireRole(signer, pb.ROLE_ADMIN, "reinstate a hospital"); err != nil {
		return err
	}
	task, err := c.existingTask(m.TaskId)
	if err != nil {
		return err
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

// sketchSeed keys the hash of the round's count sketches, which compare
// the updates of large models to count alike ones once (package
// aggregator, alike.go): the first 8 bytes of SHA-256 over the task, the
// round and every commitment in the task's order. The reveal phase opens
// only when the commit phase has closed, so the key is fixed once no
// update can change, and unknown before: a committer can change it only
// blindly, through its own salt.
func sketchSeed(task *pb.Task, rd *pb.Round) uint64 {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte("fedledger/v1 alike sketch"))
	binary.BigEndian.PutUint64(b[:], task.Id)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(rd.Round))
	h.Write(b[:])
	for _, hosp := range task.Spec.Hospitals {
		if j := findSubmission(rd, hosp); j >= 0 {
			c := rd.Submissions[j].UpdateHash
			binary.BigEndian.PutUint64(b[:], uint64(len(c)))
			h.Write(b[:])
			h.Write(c)
		}
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}
