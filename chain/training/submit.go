package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// openRoundFor loads the task and round a submission names and checks that
// the round is the open one.
func (c exec) openRoundFor(taskID uint64, round uint32) (*pb.Task, *pb.Round, error) {
	task, err := c.existingTask(taskID)
	if err != nil {
		return nil, nil, err
	}
	if task.Status != pb.TASK_STATUS_RUNNING {
		return nil, nil, fmt.Errorf("%w: task %d has finished (round %d was its last)", protocol.ErrRoundClosed, taskID, task.CurrentRound)
	}
	if round < task.CurrentRound {
		return nil, nil, fmt.Errorf("%w: round %d of task %d is closed; the open round is %d", protocol.ErrRoundClosed, round, taskID, task.CurrentRound)
	}
	if round > task.CurrentRound {
		return nil, nil, fmt.Errorf("%w: round %d of task %d has not opened; the open round is %d", protocol.ErrWrongPhase, round, taskID, task.CurrentRound)
	}
	rd, err := c.round(taskID, round)
	if err != nil {
		return nil, nil, err
	}
	return task, rd, nil
}

func isInvited(task *pb.Task, pub []byte) bool { return hospitalIndex(task, pub) >= 0 }

// hospitalIndex is pub's index in the task's invited hospitals (sorted by
// key), or -1.
func hospitalIndex(task *pb.Task, pub []byte) int {
	hs := task.Spec.Hospitals
	i := sort.Search(len(hs), func(i int) bool { return bytes.Compare(hs[i], pub) >= 0 })
	if i == len(hs) || !bytes.Equal(hs[i], pub) {
		return -1
	}
	return i
}

func findSubmission(rd *pb.Round, pub []byte) int {
	s := rd.Submissions
	i := sort.Search(len(s), func(i int) bool { return bytes.Compare(s[i].Hospital, pub) >= 0 })
	if i < len(s) && bytes.Equal(s[i].Hospital, pub) {
		return i
	}
	return -i - 1
}

func (c exec) commitUpdate(signer *pb.Participant, m *pb.CommitUpdate) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "submit updates"); err != nil {
		return err
	}
	task, rd, err := c.openRoundFor(m.TaskId, m.Round)
	if err != nil {
		return err
	}
	if rd.Phase != pb.PHASE_COMMIT || c.Height > rd.CommitDeadline {
		return fmt.Errorf("%w: the commit window of round %d of task %d closed at height %d", protocol.ErrRoundClosed, m.Round, m.TaskId, rd.CommitDeadline)
	}
	if !isInvited(task, signer.PubKey) {
		return fmt.Errorf("%w: %s is not invited to task %d", protocol.ErrNotInvited, signer.Name, m.TaskId)
	}
	if sc, err := c.score(task, signer.PubKey); err != nil {
		return err
	} else if sc != nil && sc.Flagged {
		return fmt.Errorf("%w: %s was flagged in task %d at round %d (reputation %d.%02d); an admin must reinstate it", protocol.ErrUnauthorized, signer.Name, m.TaskId, sc.FlaggedRound, sc.ScorePpm/1_000_000, sc.ScorePpm%1_000_000/10_000)
	}
	if len(m.UpdateHash) != sha256.Size {
		return fmt.Errorf("%w: update_hash has %d bytes, want a %d-byte SHA-256", protocol.ErrInvalidMsg, len(m.UpdateHash), sha256.Size)
	}
	if m.NumSamples == 0 || m.NumSamples > 1<<32 {
		return fmt.Errorf("%w: num_samples is %d, want 1 to 2^32", protocol.ErrInvalidMsg, m.NumSamples)
	}
	if m.Metrics.AccuracyPpm > 1_000_000 {
		return fmt.Errorf("%w: metrics accuracy_ppm %d exceeds 1000000", protocol.ErrInvalidMsg, m.Metrics.AccuracyPpm)
	}
	if n := len(m.ChunkHashes); n == 1 || n > protocol.MaxChunks {
		return fmt.Errorf("%w: %d chunk hashes; a chunked reveal has 2 to %d chunks (none: one RevealUpdate)", protocol.ErrInvalidMsg, n, protocol.MaxChunks)
	}
	if p, err := c.params(); err != nil {
		return err
	} else if n := uint64(len(m.ChunkHashes)); n > p.MaxChunks {
		return fmt.Errorf("%w: %d chunks; this chain's max_chunks is %d", protocol.ErrOverLimit, n, p.MaxChunks)
	}
	for j, h := range m.ChunkHashes {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: chunk hash %d has %d bytes, want a %d-byte SHA-256", protocol.ErrInvalidMsg, j, len(h), sha256.Size)
		}
	}
	if err := c.checkScores(task, rd, signer, m.Scores); err != nil {
		return err
	}
	i := findSubmission(rd, signer.PubKey)
	if i >= 0 {
		return fmt.Errorf("%w: %s already committed to round %d of task %d", protocol.ErrDuplicate, signer.Name, m.Round, m.TaskId)
	}
	i = -i - 1
	if err := c.checkDataAnchor(task, signer, m.Data); err != nil {
		return err
	}
	sub := pb.Submission{
		Hospital: signer.PubKey, UpdateHash: m.UpdateHash, NumSamples: m.NumSamples,
		Metrics: m.Metrics, CommitHeight: c.Height, ChunkHashes: m.ChunkHashes, Data: m.Data,
	}
	rd.Submissions = append(rd.Submissions, pb.Submission{})
	copy(rd.Submissions[i+1:], rd.Submissions[i:])
	rd.Submissions[i] = sub
	c.State.Save(roundKey(rd.TaskId, rd.Round), rd)
	if len(m.Scores) > 0 {
		c.State.Save(verdictsKey(rd.TaskId, rd.Round, signer.PubKey), &pb.Verdicts{Scores: m.Scores})
	}
	c.Emit("update_committed", "task_id", module.U64(m.TaskId), "round", module.U64(uint64(m.Round)), "hospital", hex.EncodeToString(signer.PubKey))
	return nil
}

// checkScores checks a commitment's scores of the previous round's
// updates: only in a task with feedback, from round 2, each of another
// hospital that revealed in that round, at most one each, sorted by key,
// each within ±1,000,000.
func (c exec) checkScores(task *pb.Task, rd *pb.Round, signer *pb.Participant, scores []pb.UpdateScore) error {
	if len(scores) == 0 {
		return nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: scores: "+format, append([]any{protocol.ErrInvalidMsg}, a...)...)
	}
	switch {
	case !task.Spec.Feedback:
		return bad("task %d takes none (its spec has no feedback)", task.Id)
	case rd.Round < 2:
		return bad("round %d has no previous round to score", rd.Round)
	case len(scores) > len(task.Spec.Hospitals):
		return bad("%d of them; task %d invites %d hospitals", len(scores), task.Id, len(task.Spec.Hospitals))
	}
	prev, err := c.round(task.Id, rd.Round-1)
	if err != nil {
		return err
	}
	for k, s := range scores {
		if k > 0 && bytes.Compare(scores[k-1].Hospital, s.Hospital) >= 0 {
			return bad("score %d is not after score %d in key order (one score per hospital, sorted by key)", k, k-1)
		}
		if bytes.Equal(s.Hospital, signer.PubKey) {
			return bad("score %d is of the sender's own update", k)
		}
		if j := findSubmission(prev, s.Hospital); j < 0 || !prev.Submissions[j].Revealed {
			return bad("score %d is of %X, which revealed no update in round %d", k, s.Hospital, prev.Round)
		}
		if v := s.LossDiffPpm; v > 1_000_000 || v < -1_000_000 {
			return bad("score %d is %d, want -1000000 to 1000000", k, v)
		}
	}
	return nil
}

// revealTarget checks that signer may reveal in round of task now, and
// returns the task, the round and signer's (unrevealed) submission.
func (c exec) revealTarget(signer *pb.Participant, taskID uint64, round uint32) (*pb.Task, *pb.Round, *pb.Submission, error) {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "submit updates"); err != nil {
		return nil, nil, nil, err
	}
	task, rd, err := c.openRoundFor(taskID, round)
	if err != nil {
		return nil, nil, nil, err
	}
	if rd.Phase == pb.PHASE_COMMIT {
		return nil, nil, nil, fmt.Errorf("%w: round %d of task %d is still in its commit phase; reveal once the reveal_opened event is out", protocol.ErrWrongPhase, round, taskID)
	}
	if rd.Phase != pb.PHASE_REVEAL || c.Height > rd.RevealDeadline {
		return nil, nil, nil, fmt.Errorf("%w: the reveal window of round %d of task %d closed at height %d", protocol.ErrRoundClosed, round, taskID, rd.RevealDeadline)
	}
	i := findSubmission(rd, signer.PubKey)
	if i < 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s has no commitment in round %d of task %d; a reveal must follow a commit", protocol.ErrNoCommitment, signer.Name, round, taskID)
	}
	sub := &rd.Submissions[i]
	if sub.Revealed {
		return nil, nil, nil, fmt.Errorf("%w: %s already revealed in round %d of task %d", protocol.ErrDuplicate, signer.Name, round, taskID)
	}
	return task, rd, sub, nil
}

func (c exec) revealUpdate(signer *pb.Participant, m *pb.RevealUpdate) error {
	task, rd, sub, err := c.revealTarget(signer, m.TaskId, m.Round)
	if err != nil {
		return err
	}
	if len(sub.ChunkHashes) > 0 {
		return fmt.Errorf("%w: %s committed to %d chunks in round %d of task %d; reveal them with RevealChunk", protocol.ErrInvalidMsg, signer.Name, len(sub.ChunkHashes), m.Round, m.TaskId)
	}
	if err := c.checkCommitment(signer, rd, sub, m.Salt, m.Update); err != nil {
		return err
	}
	vec, err := checkUpdate(task, m.Update)
	if err != nil {
		return err
	}
	return c.storeReveal(rd, sub, vec)
}

// checkUpdate decodes a revealed update and checks it against the task:
// shape, scale and the task's compression.
// It reads the update in place (the result's data aliases bz) and takes
// only its canonical encoding.
func checkUpdate(task *pb.Task, bz []byte) (pb.Vector, error) {
	vec, err := pb.ViewVector(bz)
	if err != nil {
		return vec, fmt.Errorf("%w: %v", protocol.ErrBadShape, err)
	}
	return vec, checkShape(task, &vec)
}

func checkShape(task *pb.Task, vec *pb.Vector) error {
	spec := &task.Spec
	if want := spec.InitialModel.Len; vec.Len != want {
		return fmt.Errorf("%w: update has %d values, the task's model has %d", protocol.ErrBadShape, vec.Len, want)
	}
	if vec.FracBits != spec.FracBits {
		return fmt.Errorf("%w: update has frac_bits %d, the task uses %d", protocol.ErrBadShape, vec.FracBits, spec.FracBits)
	}
	cw := spec.Compression.Width
	switch {
	case cw == pb.WIDTH_UNSPECIFIED && vec.Width != pb.WIDTH_INT32:
		return fmt.Errorf("%w: update is %v; the task takes int32 updates (int64 only when its compression says so)", protocol.ErrBadShape, vec.Width)
	case cw != pb.WIDTH_UNSPECIFIED && vec.Width != cw:
		return fmt.Errorf("%w: update is %v; the task's compression is %v", protocol.ErrBadShape, vec.Width, cw)
	}
	if spec.Compression.TopkPpm == 0 {
		if vec.Sparse {
			return fmt.Errorf("%w: update is sparse; the task takes dense updates (no top-k)", protocol.ErrBadShape)
		}
		return nil
	}
	if !vec.Sparse {
		return fmt.Errorf("%w: update is dense; the task takes top-k sparse updates", protocol.ErrBadShape)
	}
	if k := protocol.TopK(spec); vec.Nnz > k {
		return fmt.Errorf("%w: update has %d coordinates; the task's top-k keeps at most %d", protocol.ErrBadShape, vec.Nnz, k)
	}
	return nil
}

// checkCommitment checks a revealed update and salt against signer's
// commitment (protocol.Commitment binds them to signer). A commitment that
// equals another hospital's in the round, where that hospital has shown it
// is the maker (it revealed, or the reveal reproduces the commitment under
// its key), was copied: only its maker can reveal it, and the copier's
// attempt gets its own code. The maker's own mistaken reveal is a plain
// mismatch, whoever copied it.
func (c exec) checkCommitment(signer *pb.Participant, rd *pb.Round, sub *pb.Submission, salt, update []byte) error {
	if len(salt) != protocol.SaltSize {
		return fmt.Errorf("%w: salt has %d bytes, want %d (the secret the commitment covers)", protocol.ErrInvalidMsg, len(salt), protocol.SaltSize)
	}
	want := protocol.UpdateCommitment(c.ChainID, rd.TaskId, rd.Round, signer.PubKey, salt, update)
	if bytes.Equal(want, sub.UpdateHash) {
		return nil
	}
	for _, other := range rd.Submissions {
		if bytes.Equal(other.Hospital, signer.PubKey) || !bytes.Equal(other.UpdateHash, sub.UpdateHash) {
			continue
		}
		if other.Revealed || bytes.Equal(protocol.UpdateCommitment(c.ChainID, rd.TaskId, rd.Round, other.Hospital, salt, update), sub.UpdateHash) {
			return fmt.Errorf("%w: %s committed to the same hash as %X in round %d of task %d; a commitment binds its maker's key, so %s cannot reveal it", protocol.ErrCopied, signer.Name, other.Hospital, rd.Round, rd.TaskId, signer.Name)
		}
	}
	return fmt.Errorf("%w: the revealed update and salt give %X, the commitment is %X", protocol.ErrHashMismatch, want, sub.UpdateHash)
}

// storeReveal records a complete, checked reveal.
func (c exec) storeReveal(rd *pb.Round, sub *pb.Submission, vec pb.Vector) error {
	if err := c.storeUpdate(rd.TaskId, rd.Round, sub.Hospital, vec); err != nil {
		return err
	}
	sub.Revealed = true
	sub.RevealHeight = c.Height
	c.State.Save(roundKey(rd.TaskId, rd.Round), rd)
	c.Emit("update_revealed", "task_id", module.U64(rd.TaskId), "round", module.U64(uint64(rd.Round)), "hospital", hex.EncodeToString(sub.Hospital))
	return nil
}

// revealChunk takes one chunk of a chunked reveal; the last one completes it.
func (c exec) revealChunk(signer *pb.Participant, m *pb.RevealChunk) error {
	task, rd, sub, err := c.revealTarget(signer, m.TaskId, m.Round)
	if err != nil {
		return err
	}
	n := uint32(len(sub.ChunkHashes))
	if n == 0 {
		return fmt.Errorf("%w: %s committed to a whole update in round %d of task %d; reveal it with RevealUpdate", protocol.ErrInvalidMsg, signer.Name, m.Round, m.TaskId)
	}
	if m.Index >= n {
		return fmt.Errorf("%w: chunk %d of %d; indexes run from 0 to %d", protocol.ErrInvalidMsg, m.Index, n, n-1)
	}
	key := chunkKey(m.TaskId, m.Round, signer.PubKey, m.Index)
	if have, err := c.State.Get(key); err != nil {
		return err
	} else if have != nil {
		return fmt.Errorf("%w: chunk %d of %s in round %d of task %d is already in", protocol.ErrDuplicate, m.Index, signer.Name, m.Round, m.TaskId)
	}
	if h := sha256.Sum256(m.Data); !bytes.Equal(h[:], sub.ChunkHashes[m.Index]) {
		return fmt.Errorf("%w: SHA-256 of chunk %d is %X, the commitment says %X", protocol.ErrHashMismatch, m.Index, h[:], sub.ChunkHashes[m.Index])
	}
	if sub.ChunksRevealed+1 < n {
		sub.ChunksRevealed++
		c.State.Save(roundKey(rd.TaskId, rd.Round), rd)
		c.State.Set(key, m.Data)
		c.Emit("chunk_revealed", "task_id", module.U64(m.TaskId), "round", module.U64(uint64(m.Round)),
			"hospital", hex.EncodeToString(signer.PubKey), "index", module.U64(uint64(m.Index)))
		return nil
	}
	// The last chunk: join them in order, in one allocation, and check the whole.
	parts := make([][]byte, n)
	size := 0
	for j := uint32(0); j < n; j++ {
		part := m.Data
		if j != m.Index {
			if part, err = c.State.Get(chunkKey(m.TaskId, m.Round, signer.PubKey, j)); err != nil {
				return err
			}
			if part == nil {
				return fmt.Errorf("%w: chunk %d of %X missing", protocol.ErrInternal, j, signer.PubKey)
			}
		}
		parts[j], size = part, size+len(part)
	}
	whole := make([]byte, 0, size)
	for _, part := range parts {
		whole = append(whole, part...)
	}
	if err := c.checkCommitment(signer, rd, sub, m.Salt, whole); err != nil {
		return err
	}
	vec, err := checkUpdate(task, whole)
	if err != nil {
		return err
	}
	sub.ChunksRevealed = n
	for j := uint32(0); j < n; j++ {
		c.State.Delete(chunkKey(m.TaskId, m.Round, signer.PubKey, j))
	}
	return c.storeReveal(rd, sub, vec)
}
