package training

import (
	"encoding/binary"

	"github.com/fedledger/fedledger/protocol"
)

const (
	keyTaskSeq = "s/task_seq"
	keyActive  = "s/active"
)

// The keys clients verify answers against are protocol's.
var (
	taskKey       = protocol.TaskKey
	roundKey      = protocol.RoundKey
	modelKey      = protocol.ModelKey
	reputationKey = protocol.ReputationKey
)

func serverOptKey(task uint64) string {
	return "o/" + string(binary.BigEndian.AppendUint64(nil, task))
}

func updateKey(task uint64, round uint32, pub []byte) string {
	return "u/" + taskRound(task, round) + string(pub)
}

func taskRound(task uint64, round uint32) string {
	b := binary.BigEndian.AppendUint64(nil, task)
	return string(binary.BigEndian.AppendUint32(b, round))
}

func chunkKey(task uint64, round uint32, pub []byte, index uint32) string {
	return "c/" + taskRound(task, round) + string(pub) + string(binary.BigEndian.AppendUint32(nil, index))
}

// verdictsKey holds a commitment's scores of the previous round's updates
// (pb.Verdicts) until its round closes.
func verdictsKey(task uint64, round uint32, pub []byte) string {
	return "f/" + taskRound(task, round) + string(pub)
}
