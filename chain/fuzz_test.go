package chain

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// fuzzRules are the rules a fuzzed task may run, picked by the input's
// first byte.
var fuzzRules = []string{"fedavg", "median", "trimmed_mean", "multikrum", "normclip", "centeredclip", "huber"}

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

// fuzzCaps are the consensus caps of a fuzzed chain: small, so that every
// input runs in well under a millisecond of aggregation whatever task it
// creates, and the caps themselves are exercised.
var fuzzCaps = protocol.Params{MaxParams: 64, MaxHospitals: 8, MaxTaskValues: 256, MaxRounds: 4, MaxWindow: 4, MaxChunks: 4, MaxQueryBytes: 1 << 16}

// fuzzGenesis is the test genesis with fuzzCaps.
var fuzzGenesis = sync.OnceValue(func() []byte {
	g, err := ParseGenesis(testGenesisBytes())
	if err != nil {
		panic(err)
	}
	caps, _ := json.Marshal(map[string]any{"params": fuzzCaps})
	g.Modules = map[string]json.RawMessage{"training": caps}
	bz, err := json.Marshal(g)
	if err != nil {
		panic(err)
	}
	return bz
})

// fuzzClamp keeps an admin's UpdateParams within fuzzCaps (zero fields
// keep their value), so a fuzzed chain stays cheap to run.
func fuzzClamp(u *pb.UpdateParams) *pb.UpdateParams {
	c := *u
	clamp := func(v *uint64, max uint64) {
		if *v > max {
			*v = max
		}
	}
	clamp(&c.MaxParams, fuzzCaps.MaxParams)
	clamp(&c.MaxHospitals, fuzzCaps.MaxHospitals)
	clamp(&c.MaxTaskValues, fuzzCaps.MaxTaskValues)
	clamp(&c.MaxRounds, fuzzCaps.MaxRounds)
	clamp(&c.MaxWindow, fuzzCaps.MaxWindow)
	clamp(&c.MaxChunks, fuzzCaps.MaxChunks)
	clamp(&c.MaxQueryBytes, fuzzCaps.MaxQueryBytes)
	return &c
}

// fuzzSigned caches the signed bytes of (signer, nonce, message): a
// mutated input shares most of its transactions with its parent, and
// signing is a third of an input's cost otherwise. Only the harness's
// signing is cached; the app verifies every signature it is given.
var fuzzSigned struct {
	sync.Mutex
	m map[string][]byte
}

func fuzzSign(t *testing.T, name string, nonce uint64, msg *pb.Msg) []byte {
	body, err := bind(name, testChain, msg).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%s/%d/%x", name, nonce, sha256.Sum256(body))
	fuzzSigned.Lock()
	defer fuzzSigned.Unlock()
	if bz, ok := fuzzSigned.m[key]; ok {
		return bz
	}
	bz, err := pb.SignTx(testKey(name), testChain, nonce, bind(name, testChain, msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(fuzzSigned.m) >= 1<<16 || fuzzSigned.m == nil { // bound the cache's memory
		fuzzSigned.m = map[string][]byte{}
	}
	fuzzSigned.m[key] = bz
	return bz
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
	// Validation feedback: round 2's commitments score round 1's updates.
	fb := slices.Clone(seq)
	for i := range 4 {
		var scores []pb.UpdateScore
		for j := range 4 {
			if j != i {
				scores = append(scores, pb.UpdateScore{Hospital: fuzzKeys.pub(fuzzSigners[j]), LossDiffPpm: int64(j*1000 - 2500)})
			}
		}
		sortScores(scores)
		fb = append(fb, fuzzSegment(i, i == 0, withScores(commitMsg(1, 2, ups[i], 10), scores...))...)
	}
	f.Add(append([]byte{1, 4}, fb...))
	f.Add(append([]byte{3, 1}, fuzzSegment(4, false, &pb.Msg{Sum: &pb.Msg_UpdateParams{UpdateParams: &pb.UpdateParams{MaxChunks: 2}}})...))
	// The records module: anchor, grant, a logged read, break-glass,
	// review, revocation.
	var rec []byte
	for _, s := range []struct {
		signer   int
		newBlock bool
		msg      *pb.Msg
	}{
		{0, false, anchorMsg(testLeaf(0), testLeaf(1))},
		{0, false, grantMsg(fuzzKeys.pub("researcher"), 50)},
		{0, true, logMsg(accessEvent(fuzzKeys.pub("researcher"), 1, 0, 3))},
		{1, false, breakGlassMsg(fuzzKeys.pub("h1"), testLeaf(0), "emergency")},
		{0, true, logMsg(accessEvent(fuzzKeys.pub("h2"), 0, 1, 4))},
		{6, false, closeMsg(1, "justified")},
		{0, false, revokeMsg(1)},
	} {
		rec = append(rec, fuzzSegment(s.signer, s.newBlock, s.msg)...)
	}
	f.Add(append([]byte{0, 0}, rec...))
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
		if _, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: testChain, AppStateBytes: fuzzGenesis()}); err != nil {
			t.Fatal(err)
		}
		height := int64(0)
		nonces := map[string]uint64{}
		sign := func(name string, msg *pb.Msg) []byte {
			nonces[name]++
			return fuzzSign(t, name, nonces[name], msg)
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
		spec.Feedback = spec.Reputation && data[1]&4 == 4
		spec.CommitWindow, spec.RevealWindow = 2, 2
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
			if u, ok := msg.Sum.(*pb.Msg_UpdateParams); ok {
				u.UpdateParams = fuzzClamp(u.UpdateParams)
			}
			if head&0x80 != 0 && len(block) > 0 {
				run(block)
				block = nil
			}
			block = append(block, sign(fuzzSigners[head&7], &msg))
		}
		run(block)
		for range 5 { // let the windows close: the round aggregates
			run(nil)
		}
	})
}
