package protocol

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// State keys of the answers a client can verify. A proven query answer
// carries the key it was read from; a client checks that key against the
// one its query asked for (AnswerKeyMatches) before it checks the proof, so
// that a node cannot answer one question with the proven answer to another.
// The chain's modules store their records under these keys.

// TaskKey is the state key of a task.
func TaskKey(id uint64) string { return "t/" + string(binary.BigEndian.AppendUint64(nil, id)) }

// RoundKey is the state key of a round of a task.
func RoundKey(task uint64, round uint32) string { return "r/" + taskRound(task, round) }

// ModelKey is the state key of the global model after a round of a task.
func ModelKey(task uint64, round uint32) string { return "m/" + taskRound(task, round) }

// ReputationKey is the state key of a task's reputation scores.
func ReputationKey(task uint64) string {
	return "h/" + string(binary.BigEndian.AppendUint64(nil, task))
}

// ParticipantKey is the state key of the participant with key pub.
func ParticipantKey(pub []byte) string { return "p/" + fmt.Sprintf("%x", pub) }

// ParamsKey is the state key of the chain's consensus caps.
const ParamsKey = "s/params"

func taskRound(task uint64, round uint32) string {
	b := binary.BigEndian.AppendUint64(nil, task)
	return string(binary.BigEndian.AppendUint32(b, round))
}

// AnswerKeyMatches reports whether key is the state key that answers q:
// the exact key for a task, round, model, reputation, participant or params
// query, and for /model/{task} (the current model) the key of some round's
// model of that task. It is false for lists and for paths this package does
// not know, whose answers carry no proof a client can tie to the question.
func AnswerKeyMatches(q Query, key []byte) bool {
	k := string(key)
	if rk, ok := RecordsKey(q); ok {
		return k == rk
	}
	switch q.Path {
	case PathTask:
		return k == TaskKey(q.Task)
	case PathRound:
		return k == RoundKey(q.Task, q.Round)
	case PathReputation:
		return k == ReputationKey(q.Task)
	case PathParticipant:
		return k == ParticipantKey(q.PubKey)
	case PathParams:
		return k == ParamsKey
	case PathModel:
		if q.HasRound {
			return k == ModelKey(q.Task, q.Round)
		}
		prefix := "m/" + string(binary.BigEndian.AppendUint64(nil, q.Task))
		return len(k) == len(prefix)+4 && strings.HasPrefix(k, prefix)
	}
	return false
}

// Provable reports whether answers to q carry a proof (AnswerKeyMatches
// can hold): every query but the lists and the paths of other modules.
func Provable(q Query) bool {
	if _, ok := RecordsKey(q); ok {
		return true
	}
	switch q.Path {
	case PathTask, PathRound, PathReputation, PathParticipant, PathParams, PathModel:
		return true
	}
	return false
}
