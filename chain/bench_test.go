package chain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// benchUpdate is an encoded int32 update of d random values.
func benchUpdate(d int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	vals := make([]int64, d)
	for i := range vals {
		vals[i] = int64(rng.Int32N(1<<12)) - 1<<11
	}
	v, err := pb.NewVector(16, pb.WIDTH_INT32, vals)
	if err != nil {
		panic(err)
	}
	bz, _ := v.Marshal()
	return bz
}

// BenchmarkTxEncodeDecode signs and encodes, then decodes and verifies, a
// reveal of d parameters (the work of a client and of every CheckTx).
func BenchmarkTxEncodeDecode(b *testing.B) {
	key := testKey("h1")
	for _, d := range []int{1_000, 25_000, 250_000} {
		msg := revealMsg(1, 1, benchUpdate(d, 1))
		tx, err := pb.SignTx(key, testChain, 1, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("encode/d=%d", d), func(b *testing.B) {
			b.SetBytes(int64(len(tx)))
			for b.Loop() {
				if _, err := pb.SignTx(key, testChain, 1, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("decode+verify/d=%d", d), func(b *testing.B) {
			b.SetBytes(int64(len(tx)))
			for b.Loop() {
				t, _, err := pb.DecodeTx(tx)
				if err != nil {
					b.Fatal(err)
				}
				if err := t.VerifySignature(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// revealSetup creates a task of d parameters for hospitals h1-h4, has
// them all commit, and returns the harness (one app) and their reveals.
func revealSetup(b *testing.B, d int) (*harness, [][]byte) {
	b.Helper()
	h := newHarness(b, 1)
	hs := []string{"h1", "h2", "h3", "h4"}
	spec := testSpec(h, hs...)
	spec.Model.InputDim = uint32(d - 1)
	spec.InitialModel = pb.Vector{}
	spec.MinParticipants = 4
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	var commits, reveals [][]byte
	for i, name := range hs {
		up := benchUpdate(d, uint64(i))
		commits = append(commits, h.tx(name, commitMsg(1, 1, up, 10)))
		reveals = append(reveals, h.tx(name, revealMsg(1, 1, up)))
	}
	h.mustOK(h.block(commits...))
	return h, reveals
}

// BenchmarkCheckTx checks one reveal of d parameters against a round in
// its reveal phase (decode, signature, state checks, hash, shape).
func BenchmarkCheckTx(b *testing.B) {
	for _, d := range []int{1_000, 25_000, 250_000} {
		b.Run(fmt.Sprintf("reveal/d=%d", d), func(b *testing.B) {
			h, reveals := revealSetup(b, d)
			app := h.apps[0]
			req := &abci.RequestCheckTx{Tx: reveals[0], Type: abci.CheckTxType_New}
			b.SetBytes(int64(len(reveals[0])))
			for b.Loop() {
				app.checkMu.Lock()
				app.checkState = newOverlay(app.store) // forget the last accepted reveal
				app.checkMu.Unlock()
				resp, err := app.CheckTx(context.Background(), req)
				if err != nil || resp.Code != protocol.CodeOK {
					b.Fatalf("CheckTx: %v %d %s", err, resp.Code, resp.Log)
				}
			}
		})
	}
}

// BenchmarkFinalizeBlock executes a block of reveals of d parameters:
// three of four (state only), and all four, which closes the round with
// FedAvg and stores the next model. A repeated FinalizeBlock at the same
// height starts over from the last commit, so each iteration does the
// whole block.
func BenchmarkFinalizeBlock(b *testing.B) {
	for _, d := range []int{1_000, 25_000, 250_000} {
		h, reveals := revealSetup(b, d)
		app := h.apps[0]
		for _, n := range []int{3, 4} {
			name := "3reveals"
			if n == 4 {
				name = "4reveals+aggregate"
			}
			b.Run(fmt.Sprintf("%s/d=%d", name, d), func(b *testing.B) {
				req := &abci.RequestFinalizeBlock{Height: h.height + 1, Txs: reveals[:n]}
				var bytes int64
				for _, tx := range reveals[:n] {
					bytes += int64(len(tx))
				}
				b.SetBytes(bytes)
				for b.Loop() {
					resp, err := app.FinalizeBlock(context.Background(), req)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range resp.TxResults {
						if r.Code != protocol.CodeOK {
							b.Fatalf("code %d: %s", r.Code, r.Log)
						}
					}
				}
			})
		}
	}
}
