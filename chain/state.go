package chain

import (
	"encoding/binary"
	"fmt"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// state gives typed access to one version of the key/value state.
type state struct {
	*overlay
}

type marshaler interface {
	Marshal() ([]byte, error)
}

type unmarshaler interface {
	Unmarshal([]byte) error
}

func (s state) load(key string, into unmarshaler) (bool, error) {
	bz, err := s.get(key)
	if err != nil {
		return false, fmt.Errorf("%w: read %q: %v", ErrInternal, key, err)
	}
	if bz == nil {
		return false, nil
	}
	if err := into.Unmarshal(bz); err != nil {
		return false, fmt.Errorf("%w: decode %q: %v", ErrInternal, key, err)
	}
	return true, nil
}

func (s state) save(key string, m marshaler) {
	bz, err := m.Marshal()
	if err != nil {
		panic(fmt.Sprintf("chain: marshal state %q: %v", key, err)) // broken invariant
	}
	s.set(key, bz)
}

func (s state) participant(pub []byte) (*pb.Participant, error) {
	var p pb.Participant
	ok, err := s.load(participantKey(pub), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

func (s state) task(id uint64) (*pb.Task, error) {
	var t pb.Task
	ok, err := s.load(taskKey(id), &t)
	if err != nil || !ok {
		return nil, err
	}
	return &t, nil
}

func (s state) round(task uint64, r uint32) (*pb.Round, error) {
	var rd pb.Round
	ok, err := s.load(roundKey(task, r), &rd)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: round %d of task %d missing", ErrInternal, r, task)
	}
	return &rd, nil
}

func (s state) model(task uint64, r uint32) (*pb.GlobalModel, error) {
	var m pb.GlobalModel
	ok, err := s.load(modelKey(task, r), &m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: model of round %d of task %d missing", ErrInternal, r, task)
	}
	return &m, nil
}

func (s state) uint64At(key string) (uint64, error) {
	bz, err := s.get(key)
	if err != nil {
		return 0, fmt.Errorf("%w: read %q: %v", ErrInternal, key, err)
	}
	if len(bz) == 0 {
		return 0, nil
	}
	if len(bz) != 8 {
		return 0, fmt.Errorf("%w: %q holds %d bytes, want 8", ErrInternal, key, len(bz))
	}
	return binary.BigEndian.Uint64(bz), nil
}

func (s state) setUint64(key string, v uint64) {
	s.set(key, binary.BigEndian.AppendUint64(nil, v))
}

func (s state) activeTasks() ([]uint64, error) {
	bz, err := s.get(keyActive)
	if err != nil {
		return nil, fmt.Errorf("%w: read active tasks: %v", ErrInternal, err)
	}
	if len(bz)%8 != 0 {
		return nil, fmt.Errorf("%w: active task list holds %d bytes", ErrInternal, len(bz))
	}
	ids := make([]uint64, len(bz)/8)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint64(bz[8*i:])
	}
	return ids, nil
}

// setActiveTasks stores ids, which must be ascending.
func (s state) setActiveTasks(ids []uint64) {
	bz := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		bz = binary.BigEndian.AppendUint64(bz, id)
	}
	s.set(keyActive, bz)
}
