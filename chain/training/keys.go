package training

import "encoding/binary"

const (
	keyTaskSeq = "s/task_seq"
	keyActive  = "s/active"
)

func taskKey(id uint64) string {
	return "t/" + string(binary.BigEndian.AppendUint64(nil, id))
}

func serverOptKey(task uint64) string {
	return "o/" + string(binary.BigEndian.AppendUint64(nil, task))
}

func reputationKey(task uint64) string {
	return "h/" + string(binary.BigEndian.AppendUint64(nil, task))
}

func roundKey(task uint64, round uint32) string { return "r/" + taskRound(task, round) }

func modelKey(task uint64, round uint32) string { return "m/" + taskRound(task, round) }

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
