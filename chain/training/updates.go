package training

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// A revealed update is stored so that the round's close can read it a
// block of coordinates at a time (aggregator.StreamBlock of them), never
// whole: under u/ its Vector without the data (width, scale segments,
// sparse indices), and under d/ one key per block holding the data bytes
// of the values whose coordinates fall in that block. The data keys alias
// the revealed bytes; nothing is copied.

func dataKey(task uint64, round uint32, pub []byte, block uint32) string {
	return "d/" + taskRound(task, round) + string(pub) + string(binary.BigEndian.AppendUint32(nil, block))
}

// numBlocks is how many blocks of aggregator.StreamBlock cover d values.
func numBlocks(d uint32) uint32 {
	return uint32((uint64(d) + aggregator.StreamBlock - 1) / aggregator.StreamBlock)
}

// storeUpdate writes a checked update (vec views update's bytes).
func (c exec) storeUpdate(task uint64, round uint32, pub []byte, vec pb.Vector) error {
	es := vec.Width.ElemSize()
	var idx []uint32
	if vec.Sparse {
		var err error
		if idx, err = vec.SparseIndices(); err != nil {
			return fmt.Errorf("%w: checked update: %v", protocol.ErrInternal, err)
		}
	}
	pos := 0 // the first stored value of the block
	for b := range numBlocks(vec.Len) {
		end := int(min(uint64(b+1)*aggregator.StreamBlock, uint64(vec.Len)))
		next := end
		if vec.Sparse {
			next = pos + sort.Search(len(idx)-pos, func(t int) bool { return idx[pos+t] >= uint32(end) })
		}
		c.State.Set(dataKey(task, round, pub, b), vec.Data[pos*es:next*es])
		pos = next
	}
	head := vec
	head.Data = nil
	c.State.Save(updateKey(task, round, pub), &head)
	return nil
}

// deleteUpdate drops a stored update of d values.
func (c exec) deleteUpdate(task uint64, round uint32, pub []byte, d uint32) {
	c.State.Delete(updateKey(task, round, pub))
	for b := range numBlocks(d) {
		c.State.Delete(dataKey(task, round, pub, b))
	}
}

// vectorBlocks decodes a vector's coordinates a block at a time from data
// held elsewhere: the scale segments' ends, and for a sparse vector its
// coordinates and where each block's values start.
type vectorBlocks struct {
	head  pb.Vector
	es    int
	ends  []uint64 // cumulative segment ends
	idx   []uint32 // sparse: coordinates
	start []int    // sparse: index into idx of each block's first value
}

func newVectorBlocks(head pb.Vector) (*vectorBlocks, error) {
	vb := &vectorBlocks{head: head, es: head.Width.ElemSize()}
	var end uint64
	for _, n := range head.Segments {
		end += uint64(n)
		vb.ends = append(vb.ends, end)
	}
	if head.Sparse {
		idx, err := head.SparseIndices()
		if err != nil {
			return nil, err
		}
		vb.idx = idx
		for b := range numBlocks(head.Len) {
			lo := uint32(b) * aggregator.StreamBlock
			vb.start = append(vb.start, sort.Search(len(idx), func(t int) bool { return idx[t] >= lo }))
		}
		vb.start = append(vb.start, len(idx))
	}
	return vb, nil
}

// decode writes coordinates lo..lo+len(dst) (one block) to dst, from data:
// the block's stored bytes (whole=false) or the whole vector's (true).
func (vb *vectorBlocks) decode(data []byte, whole bool, lo int, dst []int64) error {
	seg := sort.Search(len(vb.ends), func(s int) bool { return vb.ends[s] > uint64(lo) })
	scale := func(i int) int64 {
		if vb.ends == nil {
			return 1
		}
		for seg < len(vb.ends)-1 && vb.ends[seg] <= uint64(i) {
			seg++
		}
		return vb.head.Scales[seg]
	}
	if !vb.head.Sparse {
		if whole {
			data = data[min(lo*vb.es, len(data)):]
		}
		if len(data) < len(dst)*vb.es {
			return fmt.Errorf("%w: stored block at %d has %d bytes, want %d", protocol.ErrInternal, lo, len(data), len(dst)*vb.es)
		}
		if vb.ends == nil && vb.es == 4 {
			for j := range dst {
				dst[j] = int64(int32(binary.LittleEndian.Uint32(data[4*j:])))
			}
			return nil
		}
		for j := range dst {
			dst[j] = vb.head.Width.At(data, j) * scale(lo+j)
		}
		return nil
	}
	b := lo / aggregator.StreamBlock
	first, last := vb.start[b], vb.start[b+1]
	if whole {
		data = data[min(first*vb.es, len(data)):]
	}
	if len(data) < (last-first)*vb.es {
		return fmt.Errorf("%w: stored sparse block at %d has %d bytes, want %d", protocol.ErrInternal, lo, len(data), (last-first)*vb.es)
	}
	clear(dst)
	for t := first; t < last; t++ {
		i := int(vb.idx[t])
		dst[i-lo] = vb.head.Width.At(data, t-first) * scale(i)
	}
	return nil
}

// updateSource reads a round's stored updates for aggregator.StreamRound.
type updateSource struct {
	state  module.Reader
	task   uint64
	round  uint32
	pubs   [][]byte
	blocks []*vectorBlocks
}

func (c exec) updateSource(task uint64, round uint32, pubs [][]byte, d uint32) (*updateSource, error) {
	src := &updateSource{state: c.State, task: task, round: round, pubs: pubs}
	for _, pub := range pubs {
		var head pb.Vector
		ok, err := c.State.Load(updateKey(task, round, pub), &head)
		if err != nil {
			return nil, err
		}
		if !ok || head.Len != d {
			return nil, fmt.Errorf("%w: stored update of %X missing or of the wrong length", protocol.ErrInternal, pub)
		}
		vb, err := newVectorBlocks(head)
		if err != nil {
			return nil, fmt.Errorf("%w: stored update of %X: %v", protocol.ErrInternal, pub, err)
		}
		src.blocks = append(src.blocks, vb)
	}
	return src, nil
}

// Block implements aggregator.Source: it decodes the block from the
// store's memory into buf.
func (s *updateSource) Block(k, lo, hi int, buf []int64) ([]int64, error) {
	data, release, err := s.state.View(dataKey(s.task, s.round, s.pubs[k], uint32(lo/aggregator.StreamBlock)))
	if err != nil {
		return nil, fmt.Errorf("%w: read update block: %v", protocol.ErrInternal, err)
	}
	defer release()
	if data == nil && (!s.blocks[k].head.Sparse) {
		return nil, fmt.Errorf("%w: update block %d of %X missing", protocol.ErrInternal, lo, s.pubs[k])
	}
	buf = buf[:hi-lo]
	return buf, s.blocks[k].decode(data, false, lo, buf)
}

// int64Pool holds per-block scratch of the round's close.
var int64Pool = sync.Pool{New: func() any { b := make([]int64, aggregator.StreamBlock); return &b }}
