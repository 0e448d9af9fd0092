package chain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// worstGenesis is the test genesis with n more hospitals, w01..wNN.
func worstGenesis(n int) []byte {
	g, err := ParseGenesis(testGenesisBytes())
	if err != nil {
		panic(err)
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("w%02d", i)
		g.Participants = append(g.Participants, GenesisParticipant{Name: name, PubKey: []byte(testKey(name).Public().(ed25519.PublicKey)), Role: "hospital"})
	}
	bz, _ := json.Marshal(g)
	return bz
}

// BenchmarkWorstTx measures, per tx kind, the most a tx of that kind can
// cost a validator under the default caps (protocol.DefaultParams): the
// bytes allocated and the time taken by CheckTx plus FinalizeBlock of a
// block holding it. The task is the largest the caps allow: an MLP of
// 1,999,001 parameters (max_params 2·10^6) drawn by the chain, for as many
// hospitals as max_task_values allows (25), with reputation. The reveal
// that completes a round pays for the round's close in the same block, so
// it is measured alone as the closing tx: a plain reveal closing a median
// round, a last chunk closing a Multi-Krum round, and a reveal closing a
// centeredclip round with fedadam (the close that holds the most: the
// centre and both moments). Each case reports alloc-B (bytes allocated),
// tx-B (the tx's size) and x-model (alloc-B over the largest model's
// in-memory bytes, 8·max_params). Run it with -benchtime=1x: the setup
// reveals 25 updates of 8 MB per case.
//
//	go test ./chain -run XXX -bench WorstTx -benchtime=1x
func BenchmarkWorstTx(b *testing.B) {
	caps := protocol.DefaultParams()
	modelBytes := float64(8 * caps.MaxParams)
	for _, tc := range []struct {
		rule, opt string
		byChunk   bool // the last chunk closes the round (else a plain reveal)
		hid       uint32
	}{{"median", "", false, 1000}, {"huber", "", false, 1000}, {"multikrum", "", true, 1000}, {"centeredclip", "fedadam", false, 250}} {
		// The largest MLP the caps allow: max_params over the model-sized
		// vectors the task keeps (4 for centeredclip with fedadam).
		const in = 1997
		hid := tc.hid
		params := uint64((in+1)*hid + hid + 1)
		n := int(min(caps.MaxTaskValues/params, caps.MaxHospitals))
		rule := tc.rule
		if tc.opt != "" {
			rule += "+" + tc.opt
		}
		h := newHarnessWith(b, 1, worstGenesis(n))
		var hs []string
		for i := 1; i <= n; i++ {
			hs = append(hs, fmt.Sprintf("w%02d", i))
			h.keys[hs[i-1]] = testKey(hs[i-1])
		}
		spec := testSpec(h, hs...)
		spec.Model = pb.ModelSpec{Arch: pb.ArchMLP, InputDim: in, HiddenDim: hid, InitSeed: 1}
		spec.InitialModel = pb.Vector{}
		spec.Rule, spec.Reputation = tc.rule, true
		if tc.opt != "" {
			spec.ServerOpt = pb.ServerOpt{Name: tc.opt, LrMicro: 100_000, Beta1Micro: 900_000, Beta2Micro: 990_000, TauMicro: 1_000}
		}
		spec.MinParticipants = uint32(n)
		spec.CommitWindow, spec.RevealWindow = 1000, 1000
		create := h.tx("researcher", createTask(spec))
		measure(b, h, rule+"/create_task", modelBytes, create)
		h.mustOK(h.block(create))

		ups := make([][]byte, n)
		for i := range ups {
			ups[i] = benchUpdate(int(params), uint64(i))
		}
		commitChunked, chunks := chunkedCommit(1, 1, ups[0], int(caps.MaxChunks))
		commits := [][]byte{h.tx(hs[0], commitChunked)}
		for i := 1; i < n-1; i++ {
			commits = append(commits, h.tx(hs[i], commitMsg(1, 1, ups[i], 10)))
		}
		h.mustOK(h.block(commits...))
		last := h.tx(hs[n-1], commitMsg(1, 1, ups[n-1], 10))
		measure(b, h, rule+"/commit_update", modelBytes, last)
		h.mustOK(h.block(last))
		h.block() // the reveal phase opens
		for i := 2; i < n; i += 4 {
			var reveals [][]byte
			for j := i; j < min(i+4, n); j++ {
				reveals = append(reveals, h.tx(hs[j], revealMsg(1, 1, ups[j])))
			}
			h.mustOK(h.block(reveals...))
		}
		var first [][]byte
		for k := 0; k < len(chunks)-1; k++ {
			first = append(first, h.tx(hs[0], chunkMsg(1, 1, k, chunks[k])))
		}
		h.mustOK(h.block(first...))
		reveal := h.tx(hs[1], revealMsg(1, 1, ups[1]))
		chunk := h.tx(hs[0], chunkMsg(1, 1, len(chunks)-1, chunks[len(chunks)-1]))
		if tc.byChunk {
			measure(b, h, rule+"/reveal_update", modelBytes, reveal)
			h.mustOK(h.block(reveal))
			measure(b, h, rule+"/reveal_chunk(last,closes)", modelBytes, chunk)
			h.mustOK(h.block(chunk))
		} else {
			measure(b, h, rule+"/reveal_chunk(last)", modelBytes, chunk)
			h.mustOK(h.block(chunk))
			measure(b, h, rule+"/reveal_update(closes)", modelBytes, reveal)
			h.mustOK(h.block(reveal))
		}
		if rd := h.round(1, 1); rd.Outcome != "aggregated" {
			b.Fatalf("round 1: %s", rd.Outcome)
		}
		measure(b, h, rule+"/reinstate", modelBytes, h.tx("admin", &pb.Msg{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: 1, Hospital: h.pub(hs[0])}}}))
		measure(b, h, rule+"/update_params", modelBytes, h.tx("admin", &pb.Msg{Sum: &pb.Msg_UpdateParams{UpdateParams: &pb.UpdateParams{MaxChunks: 8}}}))
	}
}

// measure runs CheckTx on each tx and then FinalizeBlock on them all at
// the next height, b.N times (without Commit, so each time from the same
// state), and reports the bytes allocated and the time.
func measure(b *testing.B, h *harness, name string, modelBytes float64, txs ...[]byte) {
	app := h.apps[0]
	var size int
	for _, tx := range txs {
		size += len(tx)
	}
	b.Run(name, func(b *testing.B) {
		var before, after runtime.MemStats
		var took time.Duration
		var alloc uint64
		for i := 0; i < b.N; i++ {
			settle(b, app)
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			app.checkMu.Lock()
			app.checkState = newOverlay(app.store)
			app.checkMu.Unlock()
			for _, tx := range txs {
				res, err := app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
				if err != nil || res.Code == protocol.CodeInternal {
					b.Fatalf("CheckTx: %v %d %s", err, res.Code, res.Log)
				}
			}
			resp, err := app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.height + 1, Txs: txs})
			took += time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range resp.TxResults {
				if r.Code == protocol.CodeInternal {
					b.Fatalf("code %d: %s", r.Code, r.Log)
				}
			}
			alloc += after.TotalAlloc - before.TotalAlloc
		}
		b.ReportMetric(float64(alloc)/float64(b.N), "alloc-B")
		b.ReportMetric(float64(size), "tx-B")
		b.ReportMetric(float64(alloc)/float64(b.N)/modelBytes, "x-model")
		b.ReportMetric(took.Seconds()/float64(b.N), "s")
	})
}

// settle flushes the store's memtable and waits for its background
// compactions: with an in-memory store they allocate the files they write
// on the Go heap, which the measurement would otherwise count as the tx's.
func settle(b *testing.B, app *App) {
	if err := app.store.db.Flush(); err != nil {
		b.Fatal(err)
	}
	for m := app.store.db.Metrics(); m.Compact.NumInProgress > 0 || m.Flush.NumInProgress > 0; m = app.store.db.Metrics() {
		time.Sleep(10 * time.Millisecond)
	}
}
