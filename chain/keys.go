package chain

import (
	"encoding/binary"
	"encoding/hex"
)

// Key layout of the Merkle state. Every key starts with a one-letter prefix
// and a slash; numbers are big-endian so keys sort in numeric order.
//
//	p/<hex pubkey>                  Participant
//	t/<task u64>                    Task
//	r/<task u64><round u32>         Round
//	m/<task u64><round u32>         GlobalModel after that round (0: initial)
//	u/<task u64><round u32><pubkey> revealed update, kept until the round closes
//	c/<task u64><round u32><pubkey><index u32> chunk of a chunked reveal, until complete
//	o/<task u64>                    ServerOptState of the task's server optimizer
//	h/<task u64>                    Reputation: every invited hospital's score
//	s/task_seq                      last task id (u64)
//	s/active                        ids of running tasks (u64 each, ascending)
const (
	keyTaskSeq = "s/task_seq"
	keyActive  = "s/active"
)

func participantKey(pub []byte) string { return "p/" + hex.EncodeToString(pub) }

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
