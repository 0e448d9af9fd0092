package training

import (
	"encoding/binary"
	"fmt"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// exec is one execution of the module's messages or end of block.
type exec struct{ *module.Context }

func (c exec) task(id uint64) (*pb.Task, error) {
	var t pb.Task
	ok, err := c.State.Load(taskKey(id), &t)
	if err != nil || !ok {
		return nil, err
	}
	return &t, nil
}

// existingTask loads a task a message names, wrapping ErrUnknownTask when
// there is none.
func (c exec) existingTask(id uint64) (*pb.Task, error) {
	t, err := c.task(id)
	if err == nil && t == nil {
		err = fmt.Errorf("%w: task %d does not exist", protocol.ErrUnknownTask, id)
	}
	return t, err
}

func (c exec) round(task uint64, r uint32) (*pb.Round, error) {
	var rd pb.Round
	ok, err := c.State.Load(roundKey(task, r), &rd)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: round %d of task %d missing", protocol.ErrInternal, r, task)
	}
	return &rd, nil
}

func (c exec) model(task uint64, r uint32) (*pb.GlobalModel, error) {
	var m pb.GlobalModel
	ok, err := c.State.Load(modelKey(task, r), &m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: model of round %d of task %d missing", protocol.ErrInternal, r, task)
	}
	return &m, nil
}

func (c exec) activeTasks() ([]uint64, error) {
	bz, err := c.State.Get(keyActive)
	if err != nil {
		return nil, fmt.Errorf("%w: read active tasks: %v", protocol.ErrInternal, err)
	}
	if len(bz)%8 != 0 {
		return nil, fmt.Errorf("%w: active task list holds %d bytes", protocol.ErrInternal, len(bz))
	}
	ids := make([]uint64, len(bz)/8)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint64(bz[8*i:])
	}
	return ids, nil
}

// setActiveTasks stores ids, which must be ascending.
func (c exec) setActiveTasks(ids []uint64) {
	bz := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		bz = binary.BigEndian.AppendUint64(bz, id)
	}
	c.State.Set(keyActive, bz)
}
