package chain

import (
	"context"
	"math"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// fuzzRules are the rules a fuzzed task may run, picked by the input's
// first byte.
var fuzzRules = []string{"fedavg", "median", "trimmed_mean", "multikrum", "normclip", "centeredclip"}

// fuzzSegment is one transaction of a fuzzed block sequence: who signs it,
// whether a new block starts before it, and the message's encoding.
func fuzzSegment(signer int, newBlock bool, msg *pb.Msg) []byte {
	bz, err := msg.Marshal()
	if err != nil || len(bz) > 0xffff {
		panic(err)
	}
	head := byte(signer & 7)
	if newBlock {
		head |= 0x80
	}
	return append([]byte{head, byte(len(bz) >> 8), byte(len(bz))}, bz...)
}

// fuzzKeys names the participants' keys for testSpec.
var fuzzKeys = newHarness(&testing.T{}, 0)

var fuzzSigners = []string{"h1", "h2", "h3", "h4", "admin", "researcher", "reviewer", "h5"}

// FuzzBlocks reaches FinalizeBlock and aggregation with validly signed
// transactions: the fuzzer mutates message bodies and their order, the
// harness signs each with the named participant's key and next nonce
// (binding commitments as a hospital would, see bind), runs them in
// blocks on a fresh in-memory app with a task in its commit phase, and
// then lets the windows close so the round aggregates whatever came. No
// input may make FinalizeBlock fail, panic or refuse a tx as internal.
// Its seed corpus and testdata/fuzz/FuzzBlocks run in every `go test`.
func FuzzBlocks(f *testing.F) {
	var seq []byte
	ups := [][]byte{testUpdate(1, 2, 3, 4), testUpdate(-5, 0, 7, 1), testUpdate(2, 2, 2, 2), testUpdate(9, -9, 9, -9)}
	for i := range 4 {
		seq = append(seq, fuzzSegment(i, false, commitMsg(1, 1, ups[i], uint64(10*(i+1))))...)
	}
	for i := range 4 {
		seq = append(seq, fuzzSegment(i, i == 0, revealMsg(1, 1, ups[i]))...)
	}
	for r := byte(0); r < byte(len(fuzzRules)); r++ {
		f.Add(append([]byte{r, 0}, seq...))
	}
	big := int64Update(math.MaxInt64, math.MinInt64, math.MaxInt64, 1)
	var ext []byte
	for i := range 4 {
		u := big
		if i > 1 {
			u = int64Update(1, 2, 3, int64(i))
		}
		ext = append(ext, fuzzSegment(i, false, commitMsg(1, 1, u, 10))...)
	}
	for i := range 4 {
		u := big
		if i > 1 {
			u = int64Update(1, 2, 3, int64(i))
		}
		ext = append(ext, fuzzSegment(i, i == 0, revealMsg(1, 1, u))...)
	}
	f.Add(append([]byte{1, 1}, ext...))
	f.Add(append([]byte{3, 1}, fuzzSegment(4, false, &pb.Msg{Sum: &pb.Msg_UpdateParams{UpdateParams: &pb.UpdateParams{MaxChunks: 2}}})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		app, err := NewApp(Config{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		ctx := context.Background()
		if _, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: testChain, AppStateBytes: testGenesis()}); err != nil {
			t.Fatal(err)
		}
		height := int64(0)
		nonces := map[string]uint64{}
		sign := func(name string, msg *pb.Msg) []byte {
			nonces[name]++
			bz, err := pb.SignTx(testKey(name), testChain, nonces[name], bind(name, testChain, msg))
			if err != nil {
				t.Fatal(err)
			}
			return bz
		}
		run := func(txs [][]byte) {
			height++
			resp, err := app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Txs: txs})
			if err != nil {
				t.Fatalf("FinalizeBlock at height %d: %v", height, err)
			}
			for i, r := range resp.TxResults {
				if r.Code == protocol.CodeInternal {
					t.Fatalf("height %d tx %d: internal error: %s", height, i, r.Log)
				}
			}
			if _, err := app.Commit(ctx, &abci.RequestCommit{}); err != nil {
				t.Fatal(err)
			}
		}
		spec := testSpec(fuzzKeys, "h1", "h2", "h3", "h4")
		spec.Rule = fuzzRules[int(data[0])%len(fuzzRules)]
		spec.Reputation = spec.Rule != "fedavg" || data[0]&0x80 != 0
		spec.CommitWindow, spec.RevealWindow = 3, 3
		if data[1]&1 == 1 {
			spec.Compression = pb.Compression{Width: pb.WIDTH_INT64}
		}
		if data[1]&2 == 2 {
			spec.ServerOpt = protocol.ServerOpts()["fedadam"]
		}
		run([][]byte{sign("researcher", createTask(spec))})
		var block [][]byte
		rest := data[2:]
		for len(rest) >= 3 {
			head, n := rest[0], int(rest[1])<<8|int(rest[2])
			rest = rest[3:]
			if n > len(rest) {
				n = len(rest)
			}
			body := rest[:n]
			rest = rest[n:]
			var msg pb.Msg
			if msg.Unmarshal(body) != nil || msg.Sum == nil {
				continue
			}
			if head&0x80 != 0 && len(block) > 0 {
				run(block)
				block = nil
			}
			block = append(block, sign(fuzzSigners[head&7], &msg))
		}
		run(block)
		for range 8 { // let the windows close: the round aggregates
			run(nil)
		}
	})
}
