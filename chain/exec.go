package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/fedledger/fedledger/aggregator"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Limits on what a task may ask for.
const (
	MaxRounds  = 100000
	MaxWindow  = 1000000
	MaxInvited = 10000
	// MaxTaskFracBits bounds a task's fixed-point scale.
	MaxTaskFracBits = 30
	// MaxChunks bounds the chunks of one chunked reveal.
	MaxChunks = 4096
)

// execCtx is one execution of transactions against a version of the state.
type execCtx struct {
	st      state
	height  int64 // height of the block being executed (CheckTx: next height)
	chainID string
	events  []abci.Event
	// beforeAggregate, when set (tests), runs just before an aggregation.
	beforeAggregate func()
}

func (c *execCtx) emit(typ string, kv ...string) {
	ev := abci.Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Attributes = append(ev.Attributes, abci.EventAttribute{Key: kv[i], Value: kv[i+1], Index: true})
	}
	c.events = append(c.events, ev)
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }

// deliverTx checks a transaction and, if valid, applies it to c.st.
// On error c.st is unchanged.
func (c *execCtx) deliverTx(raw []byte) error {
	tx, msg, err := pb.DecodeTx(raw)
	if err != nil {
		return err
	}
	if tx.ChainId != c.chainID {
		return fmt.Errorf("%w: signed for %q, this chain is %q", ErrWrongChain, tx.ChainId, c.chainID)
	}
	if err := tx.VerifySignature(); err != nil {
		return err
	}
	signer, err := c.st.participant(tx.Signer)
	if err != nil {
		return err
	}
	if signer == nil {
		return fmt.Errorf("%w: key %X is not a participant of this chain; ask an admin to add it", ErrUnknownSigner, tx.Signer)
	}
	if tx.Nonce <= signer.Nonce {
		return fmt.Errorf("%w: nonce %d was already used or is stale; %s's last nonce is %d, sign with a larger one", ErrBadNonce, tx.Nonce, signer.Name, signer.Nonce)
	}
	sub := &execCtx{st: state{newOverlay(c.st.overlay)}, height: c.height, chainID: c.chainID, beforeAggregate: c.beforeAggregate}
	switch m := msg.Sum.(type) {
	case *pb.Msg_CreateTask:
		err = sub.createTask(signer, m.CreateTask)
	case *pb.Msg_CommitUpdate:
		err = sub.commitUpdate(signer, m.CommitUpdate)
	case *pb.Msg_RevealUpdate:
		err = sub.revealUpdate(signer, m.RevealUpdate)
	case *pb.Msg_Reinstate:
		err = sub.reinstate(signer, m.Reinstate)
	case *pb.Msg_RevealChunk:
		err = sub.revealChunk(signer, m.RevealChunk)
	default:
		err = fmt.Errorf("%w: unknown message", ErrDecode)
	}
	if err != nil {
		return err
	}
	signer.Nonce = tx.Nonce
	sub.st.save(participantKey(signer.PubKey), signer)
	sub.st.flushInto(c.st.overlay)
	c.events = append(c.events, sub.events...)
	return nil
}

func requireRole(p *pb.Participant, want pb.Role, action string) error {
	if p.Role != want {
		return fmt.Errorf("%w: %s is a %s; only a %s may %s", ErrUnauthorized, p.Name, RoleName(p.Role), RoleName(want), action)
	}
	return nil
}

func (c *execCtx) createTask(signer *pb.Participant, m *pb.CreateTask) error {
	if err := requireRole(signer, pb.ROLE_RESEARCHER, "create a task"); err != nil {
		return err
	}
	spec := m.Spec
	if err := c.validateSpec(&spec); err != nil {
		return err
	}
	seq, err := c.st.uint64At(keyTaskSeq)
	if err != nil {
		return err
	}
	id := seq + 1
	c.st.setUint64(keyTaskSeq, id)
	model := pb.GlobalModel{TaskId: id, Round: 0, Weights: spec.InitialModel, Hash: spec.InitialModel.Hash()}
	c.st.save(modelKey(id, 0), &model)
	// The task keeps the initial model's shape, not its weights: they are
	// the round-0 model, and the task record is read by every reveal.
	spec.InitialModel.Data = nil
	task := pb.Task{
		Id: id, Creator: signer.PubKey, Spec: spec, Status: pb.TASK_STATUS_RUNNING,
		CurrentRound: 1, CreatedHeight: c.height, ModelHash: model.Hash, ModelRound: 0,
	}
	c.st.save(taskKey(id), &task)
	if spec.Reputation {
		rep := pb.Reputation{TaskId: id}
		for _, h := range spec.Hospitals {
			rep.Scores = append(rep.Scores, pb.HospitalScore{Hospital: h, ScorePpm: aggregator.ScoreStart})
		}
		c.st.save(reputationKey(id), &rep)
	}
	active, err := c.st.activeTasks()
	if err != nil {
		return err
	}
	c.st.setActiveTasks(append(active, id)) // ids only grow, so the list stays sorted
	c.emit("task_created", "task_id", u64s(id), "creator", hex.EncodeToString(signer.PubKey))
	c.openRound(&task)
	return nil
}

func (c *execCtx) validateSpec(s *pb.TaskSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: task spec: "+format, append([]any{ErrInvalidMsg}, a...)...)
	}
	n, err := s.Model.NumParams()
	if err != nil {
		return bad("%v", err)
	}
	if _, err := aggregator.NewRule(s.Rule, ruleParams(s)); err != nil {
		return bad("%v", err)
	}
	if err := serverOptParams(s).Validate(); err != nil {
		return bad("server_opt: %v", err)
	}
	if s.Rounds == 0 || s.Rounds > MaxRounds {
		return bad("rounds is %d, want 1 to %d", s.Rounds, MaxRounds)
	}
	if s.CommitWindow == 0 || s.CommitWindow > MaxWindow || s.RevealWindow == 0 || s.RevealWindow > MaxWindow {
		return bad("commit_window %d and reveal_window %d must be 1 to %d blocks", s.CommitWindow, s.RevealWindow, MaxWindow)
	}
	if len(s.Hospitals) == 0 || len(s.Hospitals) > MaxInvited {
		return bad("%d hospitals invited, want 1 to %d", len(s.Hospitals), MaxInvited)
	}
	sort.Slice(s.Hospitals, func(i, j int) bool { return bytes.Compare(s.Hospitals[i], s.Hospitals[j]) < 0 })
	for i, h := range s.Hospitals {
		if i > 0 && bytes.Equal(h, s.Hospitals[i-1]) {
			return bad("hospital %X invited twice", h)
		}
		p, err := c.st.participant(h)
		if err != nil {
			return err
		}
		if p == nil || p.Role != pb.ROLE_HOSPITAL {
			return bad("invited key %X is not a hospital of this chain", h)
		}
	}
	if s.MinParticipants == 0 || int(s.MinParticipants) > len(s.Hospitals) {
		return bad("min_participants is %d, want 1 to the %d invited hospitals", s.MinParticipants, len(s.Hospitals))
	}
	if s.FracBits > MaxTaskFracBits {
		return bad("frac_bits %d > %d", s.FracBits, MaxTaskFracBits)
	}
	im := &s.InitialModel
	if im.Len == 0 && len(im.Data) == 0 && !im.Sparse && len(im.Scales) == 0 && s.FracBits <= MaxTaskFracBits {
		// No initial model given: the chain draws one from model.init_seed.
		w, err := DrawInitialModel(s.Model, s.FracBits)
		if err != nil {
			return bad("%v", err)
		}
		if *im, err = pb.NewVector(s.FracBits, pb.WIDTH_INT32, w); err != nil {
			return bad("drawn initial model: %v", err)
		}
	}
	if err := im.Validate(); err != nil {
		return bad("initial_model: %v", err)
	}
	if int(im.Len) != n {
		return bad("initial_model has %d values, a %s with input_dim %d and hidden_dim %d has %d", im.Len, s.Model.Arch, s.Model.InputDim, s.Model.HiddenDim, n)
	}
	if im.FracBits != s.FracBits {
		return bad("initial_model frac_bits %d differ from the task's %d", im.FracBits, s.FracBits)
	}
	if im.Sparse || len(im.Scales) > 0 || (im.Width != pb.WIDTH_INT32 && im.Width != pb.WIDTH_INT64) {
		return bad("initial_model must be a dense int32 or int64 vector without scales")
	}
	switch s.Compression.Width {
	case pb.WIDTH_UNSPECIFIED, pb.WIDTH_INT8, pb.WIDTH_INT16, pb.WIDTH_INT32, pb.WIDTH_INT64:
	default:
		return bad("compression width %v unknown; use int8, int16, int32 or int64", s.Compression.Width)
	}
	if s.Compression.TopkPpm > 1_000_000 {
		return bad("compression topk_ppm %d exceeds 1000000 (all coordinates)", s.Compression.TopkPpm)
	}
	return nil
}

// TopK is how many coordinates a sparse update of a task may carry.
func TopK(s *pb.TaskSpec) uint32 {
	n := uint64(s.InitialModel.Len)
	k := (n*uint64(s.Compression.TopkPpm) + 999_999) / 1_000_000
	return uint32(max(k, 1))
}

// checkUpdate decodes a revealed update and checks it against the task:
// shape, scale and the task's compression.
func checkUpdate(task *pb.Task, bz []byte) error {
	vec, err := pb.DecodeVector(bz)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadShape, err)
	}
	spec := &task.Spec
	if want := spec.InitialModel.Len; vec.Len != want {
		return fmt.Errorf("%w: update has %d values, the task's model has %d", ErrBadShape, vec.Len, want)
	}
	if vec.FracBits != spec.FracBits {
		return fmt.Errorf("%w: update has frac_bits %d, the task uses %d", ErrBadShape, vec.FracBits, spec.FracBits)
	}
	cw := spec.Compression.Width
	switch {
	case cw == pb.WIDTH_UNSPECIFIED && vec.Width != pb.WIDTH_INT32 && vec.Width != pb.WIDTH_INT64:
		return fmt.Errorf("%w: update is %v; the task takes int32 or int64 updates", ErrBadShape, vec.Width)
	case cw != pb.WIDTH_UNSPECIFIED && vec.Width != cw:
		return fmt.Errorf("%w: update is %v; the task's compression is %v", ErrBadShape, vec.Width, cw)
	}
	if spec.Compression.TopkPpm == 0 {
		if vec.Sparse {
			return fmt.Errorf("%w: update is sparse; the task takes dense updates (no top-k)", ErrBadShape)
		}
		return nil
	}
	if !vec.Sparse {
		return fmt.Errorf("%w: update is dense; the task takes top-k sparse updates", ErrBadShape)
	}
	if k := TopK(spec); vec.Nnz > k {
		return fmt.Errorf("%w: update has %d coordinates; the task's top-k keeps at most %d", ErrBadShape, vec.Nnz, k)
	}
	return nil
}

// openRound opens task.CurrentRound at the current height.
func (c *execCtx) openRound(task *pb.Task) {
	rd := pb.Round{
		TaskId: task.Id, Round: task.CurrentRound, Phase: pb.PHASE_COMMIT,
		OpenedHeight: c.height, CommitDeadline: c.height + int64(task.Spec.CommitWindow),
		InputModelHash: task.ModelHash,
	}
	c.st.save(roundKey(task.Id, rd.Round), &rd)
	c.emit("round_opened", "task_id", u64s(task.Id), "round", u64s(uint64(rd.Round)),
		"commit_deadline", strconv.FormatInt(rd.CommitDeadline, 10))
}

// openRoundFor loads the task and round a submission names and checks that
// the round is the open one.
func (c *execCtx) openRoundFor(taskID uint64, round uint32) (*pb.Task, *pb.Round, error) {
	task, err := c.st.task(taskID)
	if err != nil {
		return nil, nil, err
	}
	if task == nil {
		return nil, nil, fmt.Errorf("%w: task %d does not exist", ErrUnknownTask, taskID)
	}
	if task.Status != pb.TASK_STATUS_RUNNING {
		return nil, nil, fmt.Errorf("%w: task %d has finished (round %d was its last)", ErrRoundClosed, taskID, task.CurrentRound)
	}
	if round < task.CurrentRound {
		return nil, nil, fmt.Errorf("%w: round %d of task %d is closed; the open round is %d", ErrRoundClosed, round, taskID, task.CurrentRound)
	}
	if round > task.CurrentRound {
		return nil, nil, fmt.Errorf("%w: round %d of task %d has not opened; the open round is %d", ErrWrongPhase, round, taskID, task.CurrentRound)
	}
	rd, err := c.st.round(taskID, round)
	if err != nil {
		return nil, nil, err
	}
	return task, rd, nil
}

func isInvited(task *pb.Task, pub []byte) bool {
	hs := task.Spec.Hospitals
	i := sort.Search(len(hs), func(i int) bool { return bytes.Compare(hs[i], pub) >= 0 })
	return i < len(hs) && bytes.Equal(hs[i], pub)
}

func findSubmission(rd *pb.Round, pub []byte) int {
	s := rd.Submissions
	i := sort.Search(len(s), func(i int) bool { return bytes.Compare(s[i].Hospital, pub) >= 0 })
	if i < len(s) && bytes.Equal(s[i].Hospital, pub) {
		return i
	}
	return -i - 1
}

func (c *execCtx) commitUpdate(signer *pb.Participant, m *pb.CommitUpdate) error {
	if err := requireRole(signer, pb.ROLE_HOSPITAL, "submit updates"); err != nil {
		return err
	}
	task, rd, err := c.openRoundFor(m.TaskId, m.Round)
	if err != nil {
		return err
	}
	if rd.Phase != pb.PHASE_COMMIT || c.height > rd.CommitDeadline {
		return fmt.Errorf("%w: the commit window of round %d of task %d closed at height %d", ErrRoundClosed, m.Round, m.TaskId, rd.CommitDeadline)
	}
	if !isInvited(task, signer.PubKey) {
		return fmt.Errorf("%w: %s is not invited to task %d", ErrNotInvited, signer.Name, m.TaskId)
	}
	if sc, err := c.score(task, signer.PubKey); err != nil {
		return err
	} else if sc != nil && sc.Flagged {
		return fmt.Errorf("%w: %s was flagged in task %d at round %d (reputation %.2f); an admin must reinstate it", ErrUnauthorized, signer.Name, m.TaskId, sc.FlaggedRound, float64(sc.ScorePpm)/1e6)
	}
	if len(m.UpdateHash) != sha256.Size {
		return fmt.Errorf("%w: update_hash has %d bytes, want a %d-byte SHA-256", ErrInvalidMsg, len(m.UpdateHash), sha256.Size)
	}
	if m.NumSamples == 0 || m.NumSamples > 1<<32 {
		return fmt.Errorf("%w: num_samples is %d, want 1 to 2^32", ErrInvalidMsg, m.NumSamples)
	}
	if m.Metrics.AccuracyPpm > 1_000_000 {
		return fmt.Errorf("%w: metrics accuracy_ppm %d exceeds 1000000", ErrInvalidMsg, m.Metrics.AccuracyPpm)
	}
	if n := len(m.ChunkHashes); n == 1 || n > MaxChunks {
		return fmt.Errorf("%w: %d chunk hashes; a chunked reveal has 2 to %d chunks (none: one RevealUpdate)", ErrInvalidMsg, n, MaxChunks)
	}
	for j, h := range m.ChunkHashes {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: chunk hash %d has %d bytes, want a %d-byte SHA-256", ErrInvalidMsg, j, len(h), sha256.Size)
		}
	}
	i := findSubmission(rd, signer.PubKey)
	if i >= 0 {
		return fmt.Errorf("%w: %s already committed to round %d of task %d", ErrDuplicate, signer.Name, m.Round, m.TaskId)
	}
	i = -i - 1
	sub := pb.Submission{
		Hospital: signer.PubKey, UpdateHash: m.UpdateHash, NumSamples: m.NumSamples,
		Metrics: m.Metrics, CommitHeight: c.height, ChunkHashes: m.ChunkHashes,
	}
	rd.Submissions = append(rd.Submissions, pb.Submission{})
	copy(rd.Submissions[i+1:], rd.Submissions[i:])
	rd.Submissions[i] = sub
	c.st.save(roundKey(rd.TaskId, rd.Round), rd)
	c.emit("update_committed", "task_id", u64s(m.TaskId), "round", u64s(uint64(m.Round)), "hospital", hex.EncodeToString(signer.PubKey))
	return nil
}

// revealTarget checks that signer may reveal in round of task now, and
// returns the task, the round and signer's (unrevealed) submission.
func (c *execCtx) revealTarget(signer *pb.Participant, taskID uint64, round uint32) (*pb.Task, *pb.Round, *pb.Submission, error) {
	if err := requireRole(signer, pb.ROLE_HOSPITAL, "submit updates"); err != nil {
		return nil, nil, nil, err
	}
	task, rd, err := c.openRoundFor(taskID, round)
	if err != nil {
		return nil, nil, nil, err
	}
	if rd.Phase == pb.PHASE_COMMIT {
		return nil, nil, nil, fmt.Errorf("%w: round %d of task %d is still in its commit phase; reveal once the reveal_opened event is out", ErrWrongPhase, round, taskID)
	}
	if rd.Phase != pb.PHASE_REVEAL || c.height > rd.RevealDeadline {
		return nil, nil, nil, fmt.Errorf("%w: the reveal window of round %d of task %d closed at height %d", ErrRoundClosed, round, taskID, rd.RevealDeadline)
	}
	i := findSubmission(rd, signer.PubKey)
	if i < 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s has no commitment in round %d of task %d; a reveal must follow a commit", ErrNoCommitment, signer.Name, round, taskID)
	}
	sub := &rd.Submissions[i]
	if sub.Revealed {
		return nil, nil, nil, fmt.Errorf("%w: %s already revealed in round %d of task %d", ErrDuplicate, signer.Name, round, taskID)
	}
	return task, rd, sub, nil
}

func (c *execCtx) revealUpdate(signer *pb.Participant, m *pb.RevealUpdate) error {
	task, rd, sub, err := c.revealTarget(signer, m.TaskId, m.Round)
	if err != nil {
		return err
	}
	if len(sub.ChunkHashes) > 0 {
		return fmt.Errorf("%w: %s committed to %d chunks in round %d of task %d; reveal them with RevealChunk", ErrInvalidMsg, signer.Name, len(sub.ChunkHashes), m.Round, m.TaskId)
	}
	if h := sha256.Sum256(m.Update); !bytes.Equal(h[:], sub.UpdateHash) {
		return fmt.Errorf("%w: SHA-256 of the revealed update is %X, the commitment is %X", ErrHashMismatch, h[:], sub.UpdateHash)
	}
	if err := checkUpdate(task, m.Update); err != nil {
		return err
	}
	c.storeReveal(rd, sub, m.Update)
	return nil
}

// storeReveal records a complete, checked reveal.
func (c *execCtx) storeReveal(rd *pb.Round, sub *pb.Submission, update []byte) {
	sub.Revealed = true
	sub.RevealHeight = c.height
	c.st.save(roundKey(rd.TaskId, rd.Round), rd)
	c.st.set(updateKey(rd.TaskId, rd.Round, sub.Hospital), update)
	c.emit("update_revealed", "task_id", u64s(rd.TaskId), "round", u64s(uint64(rd.Round)), "hospital", hex.EncodeToString(sub.Hospital))
}

// revealChunk takes one chunk of a chunked reveal; the last one completes it.
func (c *execCtx) revealChunk(signer *pb.Participant, m *pb.RevealChunk) error {
	task, rd, sub, err := c.revealTarget(signer, m.TaskId, m.Round)
	if err != nil {
		return err
	}
	n := uint32(len(sub.ChunkHashes))
	if n == 0 {
		return fmt.Errorf("%w: %s committed to a whole update in round %d of task %d; reveal it with RevealUpdate", ErrInvalidMsg, signer.Name, m.Round, m.TaskId)
	}
	if m.Index >= n {
		return fmt.Errorf("%w: chunk %d of %d; indexes run from 0 to %d", ErrInvalidMsg, m.Index, n, n-1)
	}
	key := chunkKey(m.TaskId, m.Round, signer.PubKey, m.Index)
	if have, err := c.st.get(key); err != nil {
		return err
	} else if have != nil {
		return fmt.Errorf("%w: chunk %d of %s in round %d of task %d is already in", ErrDuplicate, m.Index, signer.Name, m.Round, m.TaskId)
	}
	if h := sha256.Sum256(m.Data); !bytes.Equal(h[:], sub.ChunkHashes[m.Index]) {
		return fmt.Errorf("%w: SHA-256 of chunk %d is %X, the commitment says %X", ErrHashMismatch, m.Index, h[:], sub.ChunkHashes[m.Index])
	}
	if sub.ChunksRevealed+1 < n {
		sub.ChunksRevealed++
		c.st.save(roundKey(rd.TaskId, rd.Round), rd)
		c.st.set(key, m.Data)
		c.emit("chunk_revealed", "task_id", u64s(m.TaskId), "round", u64s(uint64(m.Round)),
			"hospital", hex.EncodeToString(signer.PubKey), "index", u64s(uint64(m.Index)))
		return nil
	}
	// The last chunk: join them in order and check the whole.
	var whole []byte
	for j := uint32(0); j < n; j++ {
		part := m.Data
		if j != m.Index {
			if part, err = c.st.get(chunkKey(m.TaskId, m.Round, signer.PubKey, j)); err != nil {
				return err
			}
			if part == nil {
				return fmt.Errorf("%w: chunk %d of %X missing", ErrInternal, j, signer.PubKey)
			}
		}
		whole = append(whole, part...)
	}
	if h := sha256.Sum256(whole); !bytes.Equal(h[:], sub.UpdateHash) {
		return fmt.Errorf("%w: the %d joined chunks hash to %X, the commitment is %X", ErrHashMismatch, n, h[:], sub.UpdateHash)
	}
	if err := checkUpdate(task, whole); err != nil {
		return err
	}
	sub.ChunksRevealed = n
	for j := uint32(0); j < n; j++ {
		c.st.del(chunkKey(m.TaskId, m.Round, signer.PubKey, j))
	}
	c.storeReveal(rd, sub, whole)
	return nil
}

// endBlock advances every running task's round: it opens the reveal phase
// when the commit window closes or every invited hospital committed, and
// closes the round when the reveal window closes or every committer revealed.
func (c *execCtx) endBlock() error {
	ids, err := c.st.activeTasks()
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
		c.st.setActiveTasks(still)
	}
	return nil
}

func (c *execCtx) advance(id uint64) (finished bool, err error) {
	task, err := c.st.task(id)
	if err != nil {
		return false, err
	}
	if task == nil {
		return false, fmt.Errorf("%w: active task %d missing", ErrInternal, id)
	}
	rd, err := c.st.round(id, task.CurrentRound)
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
		if !allIn && c.height < rd.CommitDeadline {
			return false, nil
		}
		if len(rd.Submissions) < int(task.Spec.MinParticipants) {
			return c.closeRound(task, rd, fmt.Sprintf("skipped: %d of %d hospitals committed, %d needed", len(rd.Submissions), len(task.Spec.Hospitals), task.Spec.MinParticipants))
		}
		rd.Phase = pb.PHASE_REVEAL
		rd.RevealDeadline = c.height + int64(task.Spec.RevealWindow)
		c.st.save(roundKey(id, rd.Round), rd)
		c.emit("reveal_opened", "task_id", u64s(id), "round", u64s(uint64(rd.Round)),
			"reveal_deadline", strconv.FormatInt(rd.RevealDeadline, 10))
		return false, nil
	case pb.PHASE_REVEAL:
		revealed := 0
		for _, s := range rd.Submissions {
			if s.Revealed {
				revealed++
			}
		}
		if revealed < len(rd.Submissions) && c.height < rd.RevealDeadline {
			return false, nil
		}
		if revealed < int(task.Spec.MinParticipants) {
			return c.closeRound(task, rd, fmt.Sprintf("skipped: %d of %d committed hospitals revealed, %d needed", revealed, len(rd.Submissions), task.Spec.MinParticipants))
		}
		return c.aggregate(task, rd)
	}
	return false, fmt.Errorf("%w: task %d round %d in phase %v", ErrInternal, id, rd.Round, rd.Phase)
}

// aggregate runs the task's rule over the revealed updates (leaving out
// flagged and sybil hospitals when reputation is on), scores every invited
// hospital, and closes the round.
func (c *execCtx) aggregate(task *pb.Task, rd *pb.Round) (bool, error) {
	rule, err := aggregator.NewRule(task.Spec.Rule, ruleParams(&task.Spec))
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	prev, err := c.st.model(task.Id, task.ModelRound)
	if err != nil {
		return false, err
	}
	var rep pb.Reputation
	if task.Spec.Reputation {
		ok, err := c.st.load(reputationKey(task.Id), &rep)
		if err != nil {
			return false, err
		}
		if !ok || len(rep.Scores) != len(task.Spec.Hospitals) {
			return false, fmt.Errorf("%w: reputation of task %d missing", ErrInternal, task.Id)
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
		bz, err := c.st.get(updateKey(task.Id, rd.Round, h))
		if err != nil || bz == nil {
			return false, fmt.Errorf("%w: revealed update of %X missing: %v", ErrInternal, h, err)
		}
		vec, err := pb.DecodeVector(bz)
		if err != nil {
			return false, fmt.Errorf("%w: stored update: %v", ErrInternal, err)
		}
		if members[i].Update, err = vec.Values(); err != nil {
			return false, fmt.Errorf("%w: stored update: %v", ErrInternal, err)
		}
		members[i].Revealed = true
	}
	if c.beforeAggregate != nil {
		c.beforeAggregate()
	}
	out, err := aggregator.RunRound(members, rule, task.Spec.Reputation)
	if err != nil {
		return false, fmt.Errorf("%w: aggregate task %d round %d: %v", ErrInternal, task.Id, rd.Round, err)
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
				c.emit("hospital_flagged", "task_id", u64s(task.Id), "round", u64s(uint64(rd.Round)),
					"hospital", hex.EncodeToString(sc.Hospital), "reason", strings.Join(ch.Reasons, "; "))
			}
			sc.ScorePpm, sc.Flagged = ch.Score, ch.Flagged
		}
		c.st.save(reputationKey(task.Id), &rep)
	}
	if out.Aggregate == nil {
		return c.closeRound(task, rd, "skipped: no update left once flagged and sybil hospitals were excluded")
	}
	w, err := prev.Weights.Values()
	if err != nil {
		return false, fmt.Errorf("%w: stored model: %v", ErrInternal, err)
	}
	step, err := c.serverStep(task, out.Aggregate)
	if err != nil {
		return false, err
	}
	lo, hi := prev.Weights.Width.Bounds()
	next, err := aggregator.AddSaturating(w, step, lo, hi)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	vec, err := pb.NewVector(prev.Weights.FracBits, prev.Weights.Width, next)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	model := pb.GlobalModel{TaskId: task.Id, Round: rd.Round, Weights: vec, Hash: vec.Hash()}
	c.st.save(modelKey(task.Id, rd.Round), &model)
	task.ModelHash = model.Hash
	task.ModelRound = rd.Round
	rd.NumAggregated = uint32(out.Used)
	return c.closeRound(task, rd, "aggregated")
}

// score returns a hospital's standing in a task with reputation, or nil.
func (c *execCtx) score(task *pb.Task, hospital []byte) (*pb.HospitalScore, error) {
	if !task.Spec.Reputation {
		return nil, nil
	}
	var rep pb.Reputation
	if _, err := c.st.load(reputationKey(task.Id), &rep); err != nil {
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
func (c *execCtx) eligible(task *pb.Task) (int, error) {
	n := len(task.Spec.Hospitals)
	if !task.Spec.Reputation {
		return n, nil
	}
	var rep pb.Reputation
	if _, err := c.st.load(reputationKey(task.Id), &rep); err != nil {
		return 0, err
	}
	for _, sc := range rep.Scores {
		if sc.Flagged {
			n--
		}
	}
	return n, nil
}

// ruleParams converts a spec's rule parameters.
func ruleParams(s *pb.TaskSpec) aggregator.RuleParams {
	p := s.RuleParams
	return aggregator.RuleParams{F: int(p.F), M: int(p.M), BetaMicro: p.BetaMicro, Clip: p.Clip, Iters: int(p.Iters)}
}

// reinstate clears a hospital's flag (admins only).
func (c *execCtx) reinstate(signer *pb.Participant, m *pb.Reinstate) error {
	if err := requireRole(signer, pb.ROLE_ADMIN, "reinstate a hospital"); err != nil {
		return err
	}
	task, err := c.st.task(m.TaskId)
	if err != nil {
		return err
	}
	if task == nil {
		return fmt.Errorf("%w: task %d does not exist", ErrUnknownTask, m.TaskId)
	}
	if !task.Spec.Reputation {
		return fmt.Errorf("%w: task %d keeps no reputation", ErrInvalidMsg, m.TaskId)
	}
	var rep pb.Reputation
	if _, err := c.st.load(reputationKey(m.TaskId), &rep); err != nil {
		return err
	}
	for i := range rep.Scores {
		sc := &rep.Scores[i]
		if bytes.Equal(sc.Hospital, m.Hospital) {
			if !sc.Flagged {
				return fmt.Errorf("%w: hospital %X is not flagged in task %d", ErrInvalidMsg, m.Hospital, m.TaskId)
			}
			sc.Flagged, sc.ScorePpm = false, aggregator.ScoreStart
			sc.Note = fmt.Sprintf("reinstated by %s at height %d: %s", signer.Name, c.height, m.Reason)
			c.st.save(reputationKey(m.TaskId), &rep)
			c.emit("hospital_reinstated", "task_id", u64s(m.TaskId), "hospital", hex.EncodeToString(m.Hospital))
			return nil
		}
	}
	return fmt.Errorf("%w: %X is not invited to task %d", ErrNotInvited, m.Hospital, m.TaskId)
}

// closeRound records the outcome, drops the round's revealed updates (they
// stay in the blocks), and opens the next round or finishes the task.
func (c *execCtx) closeRound(task *pb.Task, rd *pb.Round, outcome string) (bool, error) {
	for _, s := range rd.Submissions {
		if s.Revealed {
			c.st.del(updateKey(task.Id, rd.Round, s.Hospital))
		} else if s.ChunksRevealed > 0 {
			// An unfinished chunked reveal: drop what came.
			for j := range uint32(len(s.ChunkHashes)) {
				c.st.del(chunkKey(task.Id, rd.Round, s.Hospital, j))
			}
		}
	}
	rd.Phase = pb.PHASE_CLOSED
	rd.ClosedHeight = c.height
	rd.Outcome = outcome
	rd.OutputModelHash = task.ModelHash
	c.st.save(roundKey(task.Id, rd.Round), rd)
	c.emit("round_closed", "task_id", u64s(task.Id), "round", u64s(uint64(rd.Round)),
		"model_hash", hex.EncodeToString(task.ModelHash), "outcome", outcome,
		"aggregated", u64s(uint64(rd.NumAggregated)))
	if rd.Round >= task.Spec.Rounds {
		task.Status = pb.TASK_STATUS_DONE
		task.FinishedHeight = c.height
		c.st.save(taskKey(task.Id), task)
		c.emit("task_finished", "task_id", u64s(task.Id), "model_hash", hex.EncodeToString(task.ModelHash))
		return true, nil
	}
	task.CurrentRound++
	c.st.save(taskKey(task.Id), task)
	c.openRound(task)
	return false, nil
}

// serverOptParams converts a spec's server optimizer to fixed point:
// x_micro·2^fracBits/10^6, rounded half up, in integers.
func serverOptParams(s *pb.TaskSpec) aggregator.ServerOptParams {
	fix := func(micro uint64) int64 {
		hi, lo := bits.Mul64(micro, uint64(1)<<s.FracBits)
		lo, c := bits.Add64(lo, 500_000, 0)
		hi += c
		if hi >= 1_000_000 {
			return math.MaxInt64
		}
		q, _ := bits.Div64(hi, lo, 1_000_000)
		if q > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(q)
	}
	o := s.ServerOpt
	return aggregator.ServerOptParams{
		Name: o.Name, FracBits: s.FracBits,
		LR: fix(o.LrMicro), Beta1: fix(o.Beta1Micro), Beta2: fix(o.Beta2Micro), Tau: fix(o.TauMicro),
	}
}

// serverStep runs the task's server optimizer on the round's aggregate and
// keeps its state.
func (c *execCtx) serverStep(task *pb.Task, delta []int64) ([]int64, error) {
	p := serverOptParams(&task.Spec)
	if p.Name == "" || p.Name == "fedavg" {
		return delta, nil
	}
	var stored pb.ServerOptState
	var st aggregator.ServerOptState
	ok, err := c.st.load(serverOptKey(task.Id), &stored)
	if err != nil {
		return nil, err
	}
	if ok {
		if st.M, err = stored.M.Values(); err != nil {
			return nil, fmt.Errorf("%w: server optimizer state: %v", ErrInternal, err)
		}
		if st.V, err = stored.V.Values(); err != nil {
			return nil, fmt.Errorf("%w: server optimizer state: %v", ErrInternal, err)
		}
	}
	step, next, err := aggregator.ServerStep(p, st, delta)
	if err != nil {
		return nil, fmt.Errorf("%w: task %d: %v", ErrInternal, task.Id, err)
	}
	m, err := pb.NewVector(task.Spec.FracBits, pb.WIDTH_INT64, next.M)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	v, err := pb.NewVector(2*task.Spec.FracBits, pb.WIDTH_INT64, next.V)
	if err != nil && next.V != nil {
		return nil, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	if next.V == nil {
		v = pb.Vector{Width: pb.WIDTH_INT64}
	}
	c.st.save(serverOptKey(task.Id), &pb.ServerOptState{M: m, V: v})
	return step, nil
}
