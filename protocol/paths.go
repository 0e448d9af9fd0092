package protocol

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Query paths of the app. Answers are protobuf-encoded state records of
// the last committed height; with prove set, ProofOps prove the record
// against the app hash of that height (in the header of the next block).
//
//	/task/{id}                 Task
//	/round/{task}/{round}      Round
//	/model/{task}              GlobalModel, the task's current one
//	/model/{task}/{round}      GlobalModel after that round (0: initial)
//	/participant/{hex pubkey}  Participant
//	/reputation/{task}         Reputation: every invited hospital's score
//	/params                    Params of the training module, as JSON (proved)
//	/tasks                     TaskList, every task (no proof)
//	/participants              ParticipantList, every participant (no proof)
const (
	PathTask         = "/task"
	PathRound        = "/round"
	PathModel        = "/model"
	PathParticipant  = "/participant"
	PathReputation   = "/reputation"
	PathParams       = "/params"
	PathTasks        = "/tasks"
	PathParticipants = "/participants"
)

// TaskPath is the query path of task id.
func TaskPath(id uint64) string { return fmt.Sprintf("%s/%d", PathTask, id) }

// RoundPath is the query path of a round of a task.
func RoundPath(task uint64, round uint32) string {
	return fmt.Sprintf("%s/%d/%d", PathRound, task, round)
}

// ModelPath is the query path of the global model after round of task
// (0: the initial model).
func ModelPath(task uint64, round uint32) string {
	return fmt.Sprintf("%s/%d/%d", PathModel, task, round)
}

// CurrentModelPath is the query path of a task's current global model.
func CurrentModelPath(task uint64) string { return fmt.Sprintf("%s/%d", PathModel, task) }

// ParticipantPath is the query path of the participant with key pub.
func ParticipantPath(pub []byte) string {
	return PathParticipant + "/" + hex.EncodeToString(pub)
}

// ReputationPath is the query path of a task's reputation scores.
func ReputationPath(task uint64) string { return fmt.Sprintf("%s/%d", PathReputation, task) }

// Query is a parsed query path.
type Query struct {
	// Path is the kind: one of the Path constants.
	Path string
	Task uint64
	// Round is set for /round and /model/{task}/{round}; HasRound tells
	// /model/{task} (the current model) from /model/{task}/0.
	Round    uint32
	HasRound bool
	PubKey   []byte // /participant
	// Args are the path's parts after the kind, for paths this package
	// does not know: a module registers and parses its own.
	Args []string
}

// ParseQuery parses a query path. A path of a kind this package does not
// know comes back with its Args for the module that registered it (the
// app answers ErrUnknownQuery when none did). Errors wrap ErrBadQuery.
func ParseQuery(path string) (Query, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	num := func(s string, bits int) (uint64, error) {
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%w: %q in %s is not a number", ErrBadQuery, s, path)
		}
		return v, nil
	}
	q := Query{Path: "/" + parts[0]}
	var err error
	switch {
	case (q.Path == PathTasks || q.Path == PathParticipants || q.Path == PathParams) && len(parts) == 1:
		return q, nil
	case (q.Path == PathTask || q.Path == PathReputation) && len(parts) == 2,
		q.Path == PathModel && len(parts) == 2:
		q.Task, err = num(parts[1], 64)
		return q, err
	case (q.Path == PathRound || q.Path == PathModel) && len(parts) == 3:
		if q.Task, err = num(parts[1], 64); err != nil {
			return q, err
		}
		r, err := num(parts[2], 32)
		q.Round, q.HasRound = uint32(r), true
		return q, err
	case q.Path == PathParticipant && len(parts) == 2:
		pub, err := hex.DecodeString(parts[1])
		if err != nil || len(pub) != 32 {
			return q, fmt.Errorf("%w: %q is not a 32-byte hex public key", ErrBadQuery, parts[1])
		}
		q.PubKey = pub
		return q, nil
	}
	switch q.Path {
	case PathTasks, PathParticipants, PathParams, PathTask, PathReputation, PathModel, PathRound, PathParticipant:
		return Query{}, fmt.Errorf("%w: %q has %d parts (known: /task/{id}, /tasks, /round/{task}/{round}, /model/{task}[/{round}], /participant/{hex key}, /participants, /reputation/{task})", ErrUnknownQuery, path, len(parts))
	}
	q.Args = parts[1:]
	return q, nil
}
