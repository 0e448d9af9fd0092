package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// TestTaskRunsToEnd runs a 3-round task with four hospitals on two apps fed
// the same blocks: they agree on the app hash at every height, and the
// global model is the exact weighted mean of the updates.
func TestTaskRunsToEnd(t *testing.T) {
	h := newHarness(t, 2)
	hs := []string{"h1", "h2", "h3", "h4"}
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, hs...)))))
	want := make([]int64, testDim)
	for r := uint32(1); r <= 3; r++ {
		var commits, reveals [][]byte
		var sum [testDim]int64
		var total int64
		for i, name := range hs {
			vals := []int64{int64(i) * 100, -int64(r) * 7, 1 << 16, int64(i*i) - 3}
			up := testUpdate(vals...)
			samples := uint64(10 * (i + 1))
			commits = append(commits, h.tx(name, commitMsg(1, r, up, samples)))
			reveals = append(reveals, h.tx(name, revealMsg(1, r, up)))
			for j := range vals {
				sum[j] += vals[j] * int64(samples)
			}
			total += int64(samples)
		}
		h.mustOK(h.block(commits...))
		if rd := h.round(1, r); rd.Phase != pb.PHASE_REVEAL {
			t.Fatalf("round %d: phase %v after all commits, want reveal", r, rd.Phase)
		}
		res := h.block(reveals...)
		h.mustOK(res)
		rd := h.round(1, r)
		if rd.Phase != pb.PHASE_CLOSED || rd.NumAggregated != 4 || rd.Outcome != "aggregated" {
			t.Fatalf("round %d: %v, %d aggregated, %q", r, rd.Phase, rd.NumAggregated, rd.Outcome)
		}
		for j := range want {
			want[j] += divRoundRef(sum[j], total)
		}
		var m pb.GlobalModel
		if err := m.Unmarshal(h.query(fmt.Sprintf("/model/1/%d", r))); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Weights.Values()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d model %v, want %v", r, got, want)
		}
		if !bytes.Equal(m.Hash, rd.OutputModelHash) || !bytes.Equal(m.Hash, m.Weights.Hash()) {
			t.Fatalf("round %d: model hash mismatch", r)
		}
	}
	var task pb.Task
	if err := task.Unmarshal(h.query("/task/1")); err != nil {
		t.Fatal(err)
	}
	if task.Status != pb.TASK_STATUS_DONE || task.ModelRound != 3 {
		t.Fatalf("task status %v model round %d, want done after round 3", task.Status, task.ModelRound)
	}
}

func divRoundRef(s, d int64) int64 {
	q, r := s/d, s%d
	if r < 0 {
		r = -r
	}
	if 2*r >= d {
		if s < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// TestWindowsCloseRounds checks deadlines: a round with too few commitments
// is skipped, and a committer that never reveals is left out.
func TestWindowsCloseRounds(t *testing.T) {
	h := newHarness(t, 1)
	spec := testSpec(h, "h1", "h2")
	spec.MinParticipants = 1
	spec.Rounds = 2
	h.mustOK(h.block(h.tx("researcher", createTask(spec)))) // height 1: commit deadline 6
	for h.height < 6 {
		h.block()
	}
	rd := h.round(1, 1)
	if rd.Phase != pb.PHASE_CLOSED || !strings.HasPrefix(rd.Outcome, "skipped") {
		t.Fatalf("round 1 after an empty window: %v %q", rd.Phase, rd.Outcome)
	}
	up := testUpdate(1, 2, 3, 4)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 2, up, 5)), h.tx("h2", commitMsg(1, 2, testUpdate(9, 9, 9, 9), 5))))
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 2, up))))
	for i := 0; i < 5; i++ {
		h.block()
	}
	rd = h.round(1, 2)
	if rd.Phase != pb.PHASE_CLOSED || rd.NumAggregated != 1 {
		t.Fatalf("round 2: %v with %d aggregated, want closed with 1", rd.Phase, rd.NumAggregated)
	}
	var m pb.GlobalModel
	if err := m.Unmarshal(h.query("/model/1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Weights.Values(); fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("model %v, want only h1's update", got)
	}
}

// TestCheckTxRejects: every refusal has its own code and a message a
// person can act on.
func TestCheckTxRejects(t *testing.T) {
	h := newHarness(t, 1)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2", "h3", "h4")))))
	up := testUpdate(1, 2, 3, 4)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, up, 5))))

	signed := func(name, chain string, nonce uint64, msg *pb.Msg) []byte {
		bz, err := pb.SignTx(h.keys[name], chain, nonce, bind(name, chain, msg))
		if err != nil {
			t.Fatal(err)
		}
		return bz
	}
	badSig := func() []byte {
		var tx pb.Tx
		_ = tx.Unmarshal(signed("h2", testChain, 10, commitMsg(1, 1, up, 5)))
		tx.Signature[0] ^= 1
		bz, _ := tx.Marshal()
		return bz
	}()
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	strangerTx, _ := pb.SignTx(stranger, testChain, 1, commitMsg(1, 1, up, 5))

	tests := []struct {
		name string
		tx   []byte
		code uint32
		log  string
	}{
		{"undecodable bytes", []byte("not a tx"), protocol.CodeDecode, "undecodable"},
		{"bad signature", badSig, protocol.CodeBadSignature, "does not verify"},
		{"wrong chain-id", signed("h2", "other-chain", 10, commitMsg(1, 1, up, 5)), protocol.CodeWrongChain, `"other-chain"`},
		{"replayed nonce", signed("h1", testChain, h.nonces["h1"], commitMsg(1, 1, up, 5)), protocol.CodeBadNonce, "already used"},
		{"unknown signer", strangerTx, protocol.CodeUnknownSigner, "not a participant"},
		{"wrong role: hospital creates task", signed("h2", testChain, 10, createTask(testSpec(h, "h1"))), protocol.CodeUnauthorized, "only a researcher"},
		{"wrong role: reviewer submits update", signed("reviewer", testChain, 10, commitMsg(1, 1, up, 5)), protocol.CodeUnauthorized, "only a hospital"},
		{"reveal without commit", signed("h2", testChain, 10, revealMsg(1, 1, up)), protocol.CodeWrongPhase, "commit phase"},
		{"not invited", signed("h5", testChain, 10, commitMsg(1, 1, up, 5)), protocol.CodeNotInvited, "not invited"},
		{"duplicate commit", signed("h1", testChain, 10, commitMsg(1, 1, up, 5)), protocol.CodeDuplicate, "already committed"},
		{"unknown task", signed("h2", testChain, 10, commitMsg(9, 1, up, 5)), protocol.CodeUnknownTask, "task 9"},
		{"future round", signed("h2", testChain, 10, commitMsg(1, 2, up, 5)), protocol.CodeWrongPhase, "has not opened"},
		{"zero samples", signed("h2", testChain, 10, commitMsg(1, 1, up, 0)), protocol.CodeInvalidMsg, "num_samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.check(tt.tx)
			if resp.Code != tt.code || !strings.Contains(resp.Log, tt.log) {
				t.Fatalf("code %d log %q, want code %d containing %q", resp.Code, resp.Log, tt.code, tt.log)
			}
		})
	}

	// Move round 1 into its reveal phase: the other three commit.
	wrongShape := testUpdate(1, 2, 3)
	h.mustOK(h.block(h.tx("h2", commitMsg(1, 1, up, 5)), h.tx("h3", commitMsg(1, 1, wrongShape, 5))))
	// h4 never commits; the window (deadline 6) closes.
	for h.height < 6 {
		h.block()
	}
	if rd := h.round(1, 1); rd.Phase != pb.PHASE_REVEAL {
		t.Fatalf("phase %v, want reveal", rd.Phase)
	}
	reveal := []struct {
		name string
		tx   []byte
		code uint32
		log  string
	}{
		{"reveal without commit", signed("h4", testChain, 20, revealMsg(1, 1, up)), protocol.CodeNoCommitment, "no commitment"},
		{"reveal differs from commitment", signed("h1", testChain, 20, revealMsg(1, 1, testUpdate(4, 3, 2, 1))), protocol.CodeHashMismatch, "commitment is"},
		{"update of the wrong shape", signed("h3", testChain, 20, revealMsg(1, 1, wrongShape)), protocol.CodeBadShape, "has 3 values"},
		{"late commit", signed("h4", testChain, 21, commitMsg(1, 1, up, 5)), protocol.CodeRoundClosed, "commit window"},
	}
	for _, tt := range reveal {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.check(tt.tx)
			if resp.Code != tt.code || !strings.Contains(resp.Log, tt.log) {
				t.Fatalf("code %d log %q, want code %d containing %q", resp.Code, resp.Log, tt.code, tt.log)
			}
		})
	}
	// Reveal window closes; round 1 ends with h1 and h2 (h3's update is refused).
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, up)), h.tx("h2", revealMsg(1, 1, up))))
	for h.round(1, 1).Phase != pb.PHASE_CLOSED {
		h.block()
	}
	resp := h.check(signed("h1", testChain, 30, commitMsg(1, 1, up, 5)))
	if resp.Code != protocol.CodeRoundClosed || !strings.Contains(resp.Log, "is closed") {
		t.Fatalf("submission to closed round: code %d %q", resp.Code, resp.Log)
	}
	// FinalizeBlock refuses what CheckTx refuses, with the same code.
	res := h.block(signed("h1", testChain, 30, commitMsg(1, 1, up, 5)), []byte{1, 2, 3})
	if res.TxResults[0].Code != protocol.CodeRoundClosed || res.TxResults[1].Code != protocol.CodeDecode {
		t.Fatalf("FinalizeBlock codes %d, %d", res.TxResults[0].Code, res.TxResults[1].Code)
	}
}

// TestCheckTxTracksMempool: CheckTx sees the txs it accepted before the
// next commit, so a second identical-nonce tx is refused.
func TestCheckTxTracksMempool(t *testing.T) {
	h := newHarness(t, 1)
	h.block()
	tx1 := h.tx("researcher", createTask(testSpec(h, "h1")))
	if r := h.check(tx1); r.Code != 0 {
		t.Fatalf("first: %d %s", r.Code, r.Log)
	}
	again, _ := pb.SignTx(h.keys["researcher"], testChain, h.nonces["researcher"], createTask(testSpec(h, "h2")))
	if r := h.check(again); r.Code != protocol.CodeBadNonce {
		t.Fatalf("same nonce in mempool: code %d, want %d", r.Code, protocol.CodeBadNonce)
	}
}

// TestRestartKeepsState: an app reopened on its directory reports the last
// commit through Info and carries on to the same hashes as one that never stopped.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, 1) // reference app
	app, err := NewApp(DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, AppStateBytes: testGenesis()}); err != nil {
		t.Fatal(err)
	}
	h.apps = append(h.apps, app)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))))
	up := testUpdate(5, 6, 7, 8)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, up, 3))))
	// A FinalizeBlock that is never committed (a crash before Commit) is lost,
	// and the block is executed again after the restart.
	pendingTx := h.tx("h2", commitMsg(1, 1, up, 3))
	if _, err := app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.height + 1, Txs: [][]byte{pendingTx}}); err != nil {
		t.Fatal(err)
	}
	wantH, wantHash := app.LastCommit()
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	app2, err := NewApp(DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app2.Close() })
	info, _ := app2.Info(context.Background(), &abci.RequestInfo{})
	if info.LastBlockHeight != wantH || !bytes.Equal(info.LastBlockAppHash, wantHash) {
		t.Fatalf("Info after restart: %d %X, want %d %X", info.LastBlockHeight, info.LastBlockAppHash, wantH, wantHash)
	}
	h.apps[1] = app2
	h.mustOK(h.block(pendingTx))
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, up)), h.tx("h2", revealMsg(1, 1, up))))
	if rd := h.round(1, 1); rd.Phase != pb.PHASE_CLOSED {
		t.Fatalf("round 1 phase %v after restart", rd.Phase)
	}
}

func TestGenesisErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not json", `{`, "genesis app_state"},
		{"unknown field", `{"participants":[],"x":1}`, "unknown field"},
		{"empty", `{"participants":[]}`, "no participants"},
		{"short key", `{"participants":[{"name":"a","pub_key":"AAEC","role":"admin"}]}`, "3 bytes"},
		{"bad role", `{"participants":[{"name":"a","pub_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","role":"king"}]}`, `unknown role "king"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGenesis([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	h := newHarness(t, 1)
	h.block()
	for path, code := range map[string]uint32{
		"/task/1":          protocol.CodeNotFound,
		"/task/x":          protocol.CodeBadQuery,
		"/nope":            protocol.CodeUnknownQuery,
		"/participant/zz":  protocol.CodeBadQuery,
		"/model/3":         protocol.CodeNotFound,
		"/round/1/2/extra": protocol.CodeUnknownQuery,
	} {
		resp, _ := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: path})
		if resp.Code != code || resp.Log == "" {
			t.Errorf("%s: code %d %q, want %d", path, resp.Code, resp.Log, code)
		}
	}
	var p pb.Participant
	if err := p.Unmarshal(h.query(fmt.Sprintf("/participant/%x", h.pub("h1")))); err != nil || p.Name != "h1" || p.Role != pb.ROLE_HOSPITAL {
		t.Fatalf("participant query: %+v %v", p, err)
	}
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1"))), h.tx("researcher", createTask(testSpec(h, "h2")))))
	resp, _ := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: "/tasks"})
	var tl pb.TaskList
	if err := tl.Unmarshal(resp.Value); err != nil || len(tl.Tasks) != 2 || tl.Tasks[1].Id != 2 {
		t.Fatalf("/tasks: %v %+v", err, tl)
	}
	resp, _ = h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: "/participants"})
	var pl pb.ParticipantList
	if err := pl.Unmarshal(resp.Value); err != nil || len(pl.Participants) != len(testParticipants) {
		t.Fatalf("/participants: %v %d", err, len(pl.Participants))
	}
	if resp, _ := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: "/tasks", Prove: true}); resp.Code != protocol.CodeBadQuery {
		t.Fatalf("/tasks with prove: code %d", resp.Code)
	}
}

// FuzzParseGenesis: genesis app_state is outside input; the parser must
// return an error or a valid state, never panic.
func FuzzParseGenesis(f *testing.F) {
	f.Add(testGenesis())
	f.Add([]byte(`{"participants":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, bz []byte) {
		g, err := ParseGenesis(bz)
		if err == nil && g.Validate() != nil {
			t.Fatal("ParseGenesis returned an invalid state")
		}
	})
}

// FuzzCheckTx: anything sent to the mempool gets a result code, never a
// panic or an internal error. The input's first byte picks the mode: raw
// (the rest is the tx's bytes as they are) or signed (the harness signs the
// rest as a message body, as the byte's low bits name the signer and
// whether to reuse the last nonce), so that mutated messages reach the
// handlers' checks behind the signature. One app with a task in its commit
// phase serves every input; its check state moves on with accepted txs.
func FuzzCheckTx(f *testing.F) {
	h := newHarness(&testing.T{}, 0)
	f.Add(append([]byte{0}, h.tx("researcher", createTask(testSpec(h, "h1")))...))
	f.Add([]byte{0, 0x0a, 0x00})
	for i, m := range []*pb.Msg{
		createTask(testSpec(h, "h1", "h2")),
		commitMsg(1, 1, testUpdate(1, 2, 3, 4), 10),
		withScores(commitMsg(1, 2, testUpdate(1, 2, 3, 4), 10), pb.UpdateScore{Hospital: h.pub("h2"), LossDiffPpm: -5}, pb.UpdateScore{Hospital: h.pub("h3"), LossDiffPpm: 7}),
		revealMsg(1, 1, testUpdate(1, 2, 3, 4)),
		{Sum: &pb.Msg_RevealChunk{RevealChunk: &pb.RevealChunk{TaskId: 1, Round: 1, Index: 0, Data: []byte{1, 2, 3}}}},
		{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: 1, Hospital: h.pub("h1")}}},
		{Sum: &pb.Msg_UpdateParams{UpdateParams: &pb.UpdateParams{MaxChunks: 2}}},
		anchorMsg(testLeaf(0)),
		grantMsg(h.pub("researcher"), 100),
		revokeMsg(1),
		breakGlassMsg(h.pub("h2"), testLeaf(0), "emergency"),
		closeMsg(1, "justified"),
		logMsg(accessEvent(h.pub("researcher"), 1, 0, 1)),
	} {
		bz, _ := m.Marshal()
		for _, signer := range []byte{0, 4, 5} {
			f.Add(append([]byte{0x80 | signer | byte(i&1)<<3}, bz...))
		}
	}
	var (
		once   sync.Once
		app    *App
		nonces = map[string]uint64{}
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		once.Do(func() {
			var err error
			if app, err = NewApp(Config{InMemory: true}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: testChain, AppStateBytes: fuzzGenesis()}); err != nil {
				t.Fatal(err)
			}
			spec := testSpec(fuzzKeys, "h1", "h2", "h3", "h4")
			spec.CommitWindow, spec.RevealWindow = 4, 4
			spec.Rule, spec.Reputation, spec.Feedback = "median", true, true
			nonces["researcher"] = 1
			tx := fuzzSign(t, "researcher", 1, createTask(spec))
			if _, err := app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1, Txs: [][]byte{tx}}); err != nil {
				t.Fatal(err)
			}
			if _, err := app.Commit(ctx, &abci.RequestCommit{}); err != nil {
				t.Fatal(err)
			}
		})
		if len(data) == 0 {
			return
		}
		tx := data[1:]
		if data[0]&0x80 != 0 {
			var msg pb.Msg
			if msg.Unmarshal(tx) != nil || msg.Sum == nil {
				return
			}
			name := fuzzSigners[data[0]&7]
			nonce := nonces[name] + 1
			if data[0]&8 != 0 && nonce > 1 {
				nonce-- // a replayed nonce
			}
			tx = fuzzSign(t, name, nonce, &msg)
			defer func() {
				if t.Failed() {
					t.Logf("signed as %s, nonce %d: %s", name, nonce, msg.String())
				}
			}()
		}
		res, err := app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx})
		if err != nil || res.Code == protocol.CodeInternal {
			t.Fatalf("CheckTx(%x): %v code %d %s", tx, err, res.Code, res.Log)
		}
		if res.Code == protocol.CodeOK && data[0]&0x80 != 0 {
			nonces[fuzzSigners[data[0]&7]]++
		}
	})
}
