package chain

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

func chunkedCommit(task uint64, round uint32, update []byte, parts int) (*pb.Msg, [][]byte) {
	msg := commitMsg(task, round, update, 10)
	var chunks [][]byte
	size := (len(update) + parts - 1) / parts
	for off := 0; off < len(update); off += size {
		c := update[off:min(off+size, len(update))]
		h := sha256.Sum256(c)
		chunks = append(chunks, c)
		msg.GetCommitUpdate().ChunkHashes = append(msg.GetCommitUpdate().ChunkHashes, h[:])
	}
	return msg, chunks
}

func chunkMsg(task uint64, round uint32, index int, data []byte) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_RevealChunk{RevealChunk: &pb.RevealChunk{TaskId: task, Round: round, Index: uint32(index), Data: data}}}
}

// TestChunkedReveal reveals one update in three chunks sent out of order
// over two blocks (two apps agree), beside a whole reveal; the model is the
// same as with whole reveals, the chunks leave no state behind, and bad
// chunks are refused with the right codes.
func TestChunkedReveal(t *testing.T) {
	h := newHarness(t, 2)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))))
	up1, up2 := testUpdate(100, -200, 300, 400), testUpdate(-100, 0, 50, 8)
	commit1, chunks := chunkedCommit(1, 1, up1, 3)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	h.mustOK(h.block(h.tx("h1", commit1), h.tx("h2", commitMsg(1, 1, up2, 10))))

	refusals := []struct {
		name string
		msg  *pb.Msg
		code uint32
	}{
		{"whole reveal of a chunked commitment", revealMsg(1, 1, up1), protocol.CodeInvalidMsg},
		{"index past the end", chunkMsg(1, 1, 3, chunks[0]), protocol.CodeInvalidMsg},
		{"chunk that does not match its hash", chunkMsg(1, 1, 0, chunks[1]), protocol.CodeHashMismatch},
	}
	for _, r := range refusals {
		if resp := h.check(h.tx("h1", r.msg)); resp.Code != r.code {
			t.Errorf("%s: code %d (%s), want %d", r.name, resp.Code, resp.Log, r.code)
		}
	}
	if resp := h.check(h.tx("h2", chunkMsg(1, 1, 0, up2))); resp.Code != protocol.CodeInvalidMsg {
		t.Errorf("chunk for a whole commitment: code %d, want %d", resp.Code, protocol.CodeInvalidMsg)
	}
	h.mustOK(h.block(h.tx("h1", chunkMsg(1, 1, 2, chunks[2])), h.tx("h2", revealMsg(1, 1, up2))))
	if resp := h.check(h.tx("h1", chunkMsg(1, 1, 2, chunks[2]))); resp.Code != protocol.CodeDuplicate {
		t.Errorf("repeated chunk: code %d, want %d", resp.Code, protocol.CodeDuplicate)
	}
	rd := h.round(1, 1)
	if rd.Phase != pb.PHASE_REVEAL || rd.Submissions[0].ChunksRevealed+rd.Submissions[1].ChunksRevealed != 1 {
		t.Fatalf("after one chunk: phase %v, submissions %+v", rd.Phase, rd.Submissions)
	}
	h.mustOK(h.block(h.tx("h1", chunkMsg(1, 1, 0, chunks[0])), h.tx("h1", chunkMsg(1, 1, 1, chunks[1]))))
	rd = h.round(1, 1)
	if rd.Phase != pb.PHASE_CLOSED || rd.NumAggregated != 2 {
		t.Fatalf("after every chunk: phase %v, %d aggregated (%s)", rd.Phase, rd.NumAggregated, rd.Outcome)
	}
	var m pb.GlobalModel
	if err := m.Unmarshal(h.query("/model/1/1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Weights.Values(); !slices.Equal(got, []int64{0, -100, 175, 204}) {
		t.Errorf("model %v, want the mean of both updates", got)
	}
	for _, app := range h.apps {
		if keys := app.store.KeysWithPrefix("c/"); len(keys) != 0 {
			t.Errorf("%d chunk keys left in state", len(keys))
		}
	}
}

// TestChunksDroppedWithRound: chunks of a reveal that never completes are
// removed when the round closes.
func TestChunksDroppedWithRound(t *testing.T) {
	h := newHarness(t, 1)
	spec := testSpec(h, "h1")
	spec.RevealWindow = 2
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	commit, chunks := chunkedCommit(1, 1, testUpdate(1, 2, 3, 4), 2)
	h.mustOK(h.block(h.tx("h1", commit)))
	h.mustOK(h.block(h.tx("h1", chunkMsg(1, 1, 0, chunks[0]))))
	if keys := h.apps[0].store.KeysWithPrefix("c/"); len(keys) != 1 {
		t.Fatalf("%d chunk keys, want 1", len(keys))
	}
	h.block()
	h.block()
	if rd := h.round(1, 1); rd.Phase != pb.PHASE_CLOSED || !strings.HasPrefix(rd.Outcome, "skipped") {
		t.Fatalf("round 1: %v %q", rd.Phase, rd.Outcome)
	}
	if keys := h.apps[0].store.KeysWithPrefix("c/"); len(keys) != 0 {
		t.Errorf("%d chunk keys left after the round closed", len(keys))
	}
}

// TestCompressionEnforced: a task's compression decides which encodings
// its reveals may use, and compressed updates aggregate to the exact mean
// of their dequantized values.
func TestCompressionEnforced(t *testing.T) {
	enc := func(width pb.Width, indices []uint32, q []int64, scales []int64) []byte {
		var segs []uint32
		if scales != nil {
			segs = []uint32{3, 1}
		}
		v, err := pb.NewCompressedVector(16, width, testDim, indices, q, segs, scales)
		if err != nil {
			t.Fatal(err)
		}
		bz, _ := v.Marshal()
		return bz
	}
	int8Dense := enc(pb.WIDTH_INT8, nil, []int64{10, -20, 127, 5}, []int64{1000, 3})
	int8Top2 := enc(pb.WIDTH_INT8, []uint32{0, 3}, []int64{-128, 1}, []int64{1000, 3})
	int8Top3 := enc(pb.WIDTH_INT8, []uint32{0, 1, 3}, []int64{1, 1, 1}, []int64{1, 1})
	int32Dense := testUpdate(1, 2, 3, 4)
	for _, tc := range []struct {
		name   string
		comp   pb.Compression
		update []byte
		code   uint32
	}{
		{"no compression takes int32", pb.Compression{}, int32Dense, protocol.CodeOK},
		{"no compression refuses int8", pb.Compression{}, int8Dense, protocol.CodeBadShape},
		{"int8 takes int8", pb.Compression{Width: pb.WIDTH_INT8}, int8Dense, protocol.CodeOK},
		{"int8 refuses int32", pb.Compression{Width: pb.WIDTH_INT8}, int32Dense, protocol.CodeBadShape},
		{"int8 refuses sparse", pb.Compression{Width: pb.WIDTH_INT8}, int8Top2, protocol.CodeBadShape},
		{"top-50% takes 2 of 4", pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: 500_000}, int8Top2, protocol.CodeOK},
		{"top-50% refuses 3 of 4", pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: 500_000}, int8Top3, protocol.CodeBadShape},
		{"top-k refuses dense", pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: 500_000}, int8Dense, protocol.CodeBadShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			spec := testSpec(h, "h1")
			spec.Compression = tc.comp
			h.mustOK(h.block(h.tx("researcher", createTask(spec))))
			h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, tc.update, 10))))
			res := h.block(h.tx("h1", revealMsg(1, 1, tc.update)))
			if got := res.TxResults[0].Code; got != tc.code {
				t.Fatalf("reveal: code %d (%s), want %d", got, res.TxResults[0].Log, tc.code)
			}
			if tc.code != protocol.CodeOK {
				return
			}
			var m pb.GlobalModel
			if err := m.Unmarshal(h.query("/model/1/1")); err != nil {
				t.Fatal(err)
			}
			v, _ := pb.DecodeVector(tc.update)
			want, _ := v.Values()
			if got, _ := m.Weights.Values(); !slices.Equal(got, want) {
				t.Errorf("model %v, want the update %v", got, want)
			}
		})
	}
	h := newHarness(t, 1)
	for _, c := range []pb.Compression{{Width: 9}, {TopkPpm: 1_000_001}} {
		spec := testSpec(h, "h1")
		spec.Compression = c
		if resp := h.check(h.tx("researcher", createTask(spec))); resp.Code != protocol.CodeInvalidMsg {
			t.Errorf("compression %+v: code %d, want %d", c, resp.Code, protocol.CodeInvalidMsg)
		}
	}
	if got := protocol.TopK(&pb.TaskSpec{InitialModel: pb.Vector{Len: 1_000_000}, Compression: pb.Compression{TopkPpm: 10_000}}); got != 10_000 {
		t.Errorf("TopK 1%% of 10^6 = %d", got)
	}
	if got := protocol.TopK(&pb.TaskSpec{InitialModel: pb.Vector{Len: 3}, Compression: pb.Compression{TopkPpm: 1}}); got != 1 {
		t.Errorf("TopK rounds up to 1, got %d", got)
	}
}
