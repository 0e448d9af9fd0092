package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/fedledger/fedledger/aggregator"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

const testChain = "fedledger-test"

// harness drives one or more Apps with the same blocks, as CometBFT would.
type harness struct {
	t      testing.TB
	apps   []*App
	height int64
	keys   map[string]ed25519.PrivateKey
	nonces map[string]uint64
}

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("fedledger test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

var testParticipants = []struct{ name, role string }{
	{"admin", "admin"}, {"researcher", "researcher"}, {"reviewer", "reviewer"},
	{"h1", "hospital"}, {"h2", "hospital"}, {"h3", "hospital"}, {"h4", "hospital"},
	{"h5", "hospital"}, // not invited to the default task
}

func testGenesis() []byte {
	var g GenesisState
	for _, p := range testParticipants {
		g.Participants = append(g.Participants, GenesisParticipant{Name: p.name, PubKey: testKey(p.name).Public().(ed25519.PublicKey), Role: p.role})
	}
	bz, _ := json.Marshal(g)
	return bz
}

func newHarness(t testing.TB, n int) *harness {
	t.Helper()
	h := &harness{t: t, keys: map[string]ed25519.PrivateKey{}, nonces: map[string]uint64{}}
	for _, p := range testParticipants {
		h.keys[p.name] = testKey(p.name)
	}
	for i := 0; i < n; i++ {
		app, err := NewApp(DefaultConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		if _, err := app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, AppStateBytes: testGenesis()}); err != nil {
			t.Fatal(err)
		}
		h.apps = append(h.apps, app)
	}
	return h
}

func (h *harness) pub(name string) []byte { return h.keys[name].Public().(ed25519.PublicKey) }

// tx signs msg as name with the next nonce.
func (h *harness) tx(name string, msg *pb.Msg) []byte {
	h.nonces[name]++
	bz, err := pb.SignTx(h.keys[name], testChain, h.nonces[name], msg)
	if err != nil {
		h.t.Fatal(err)
	}
	return bz
}

// block finalizes and commits txs on every app, checks that they agree, and
// returns the first app's results.
func (h *harness) block(txs ...[]byte) *abci.ResponseFinalizeBlock {
	h.t.Helper()
	h.height++
	var first *abci.ResponseFinalizeBlock
	for i, app := range h.apps {
		resp, err := app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.height, Txs: txs})
		if err != nil {
			h.t.Fatalf("app %d height %d: %v", i, h.height, err)
		}
		if _, err := app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
			h.t.Fatal(err)
		}
		if first == nil {
			first = resp
		} else if !bytes.Equal(first.AppHash, resp.AppHash) {
			h.t.Fatalf("height %d: app 0 hash %X, app %d hash %X", h.height, first.AppHash, i, resp.AppHash)
		}
	}
	return first
}

func (h *harness) mustOK(resp *abci.ResponseFinalizeBlock) {
	h.t.Helper()
	for i, r := range resp.TxResults {
		if r.Code != protocol.CodeOK {
			h.t.Fatalf("height %d tx %d: code %d: %s", h.height, i, r.Code, r.Log)
		}
	}
}

func (h *harness) check(tx []byte) *abci.ResponseCheckTx {
	resp, err := h.apps[0].CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) query(path string) []byte {
	h.t.Helper()
	resp, err := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: path, Prove: true})
	if err != nil || resp.Code != 0 {
		h.t.Fatalf("query %s: %v %d %s", path, err, resp.Code, resp.Log)
	}
	_, appHash := h.apps[0].LastCommit()
	if err := VerifyProof(resp, appHash); err != nil {
		h.t.Fatalf("query %s: proof: %v", path, err)
	}
	return resp.Value
}

const testDim = 4 // logreg over 3 features: 3 weights + bias

func testSpec(h *harness, hospitals ...string) pb.TaskSpec {
	init, _ := pb.NewVector(16, pb.WIDTH_INT32, make([]int64, testDim))
	spec := pb.TaskSpec{
		Name:  "test",
		Model: pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: testDim - 1},
		Rule:  "fedavg", Rounds: 3, MinParticipants: 1, CommitWindow: 5, RevealWindow: 5,
		FracBits: 16, InitialModel: init,
	}
	for _, n := range hospitals {
		spec.Hospitals = append(spec.Hospitals, h.pub(n))
	}
	return spec
}

func createTask(spec pb.TaskSpec) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{Spec: spec}}}
}

func testUpdate(vals ...int64) []byte {
	v, err := pb.NewVector(16, pb.WIDTH_INT32, vals)
	if err != nil {
		panic(err)
	}
	bz, _ := v.Marshal()
	return bz
}

func commitMsg(task uint64, round uint32, update []byte, samples uint64) *pb.Msg {
	h := sha256.Sum256(update)
	return &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{TaskId: task, Round: round, UpdateHash: h[:], NumSamples: samples}}}
}

func revealMsg(task uint64, round uint32, update []byte) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: task, Round: round, Update: update}}}
}

func (h *harness) round(task uint64, r uint32) *pb.Round {
	var rd pb.Round
	if err := rd.Unmarshal(h.query(fmt.Sprintf("/round/%d/%d", task, r))); err != nil {
		h.t.Fatal(err)
	}
	return &rd
}

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
		bz, err := pb.SignTx(h.keys[name], chain, nonce, msg)
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

// FuzzCheckTx: any bytes sent to the mempool get a result code, never a
// panic or an internal error.
func FuzzCheckTx(f *testing.F) {
	h := newHarness(&testing.T{}, 0)
	f.Add(h.tx("researcher", createTask(testSpec(h, "h1"))))
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, bz []byte) {
		app, err := NewApp(DefaultConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		if _, err := app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, AppStateBytes: testGenesis()}); err != nil {
			t.Fatal(err)
		}
		res, err := app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: bz})
		if err != nil || res.Code == protocol.CodeInternal {
			t.Fatalf("CheckTx(%x): %v code %d %s", bz, err, res.Code, res.Log)
		}
	})
}

// TestServerOptimizerOnChain: a FedAdam task's models are exactly FedAvg
// followed by aggregator.ServerStep, with the optimizer state kept between
// rounds.
func TestServerOptimizerOnChain(t *testing.T) {
	h := newHarness(t, 2)
	spec := testSpec(h, "h1", "h2")
	spec.ServerOpt = pb.ServerOpt{Name: "fedadam", LrMicro: 100_000, Beta1Micro: 900_000, Beta2Micro: 990_000, TauMicro: 1_000}
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	p := protocol.ServerOptParams(&spec)
	var st aggregator.ServerOptState
	model := make([]int64, testDim)
	for r := uint32(1); r <= 3; r++ {
		u1 := []int64{int64(r) * 1000, -500, 70, 3}
		u2 := []int64{-300, int64(r) * 2000, 10, -9}
		b1, b2 := testUpdate(u1...), testUpdate(u2...)
		h.mustOK(h.block(h.tx("h1", commitMsg(1, r, b1, 10)), h.tx("h2", commitMsg(1, r, b2, 30))))
		h.mustOK(h.block(h.tx("h1", revealMsg(1, r, b1)), h.tx("h2", revealMsg(1, r, b2))))
		avg, _ := aggregator.FedAvg([]aggregator.Update{{Values: u1, Weight: 10}, {Values: u2, Weight: 30}})
		step, next, err := aggregator.ServerStep(p, st, avg)
		if err != nil {
			t.Fatal(err)
		}
		st = next
		model, _ = aggregator.AddSaturating(model, step, math.MinInt32, math.MaxInt32)
		var m pb.GlobalModel
		if err := m.Unmarshal(h.query(fmt.Sprintf("/model/1/%d", r))); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Weights.Values()
		if fmt.Sprint(got) != fmt.Sprint(model) {
			t.Fatalf("round %d: chain model %v, want %v", r, got, model)
		}
	}
	bad := testSpec(h, "h1")
	bad.ServerOpt = pb.ServerOpt{Name: "fedadam", LrMicro: 100_000}
	if r := h.check(h.tx("researcher", createTask(bad))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, "tau") {
		t.Fatalf("fedadam without tau: code %d %q", r.Code, r.Log)
	}
}

// TestReputationFlagsAndReinstates: a hospital that commits and never
// reveals is flagged after two rounds, may not commit while flagged, and
// commits again once an admin reinstates it; every change carries a reason.
func TestReputationFlagsAndReinstates(t *testing.T) {
	h := newHarness(t, 2)
	spec := testSpec(h, "h1", "h2", "h3")
	spec.Rule, spec.Reputation, spec.Rounds, spec.RevealWindow = "median", true, 5, 2
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	for r := uint32(1); r <= 2; r++ {
		u1, u2 := testUpdate(10, 20, 30, 40), testUpdate(12, 18, 33, 41)
		h.mustOK(h.block(h.tx("h1", commitMsg(1, r, u1, 5)), h.tx("h2", commitMsg(1, r, u2, 5)), h.tx("h3", commitMsg(1, r, testUpdate(1, 1, 1, 1), 5))))
		h.mustOK(h.block(h.tx("h1", revealMsg(1, r, u1)), h.tx("h2", revealMsg(1, r, u2))))
		for h.round(1, r).Phase != pb.PHASE_CLOSED {
			h.block()
		}
	}
	rd := h.round(1, 2)
	var h3 *pb.ReputationChange
	for i := range rd.Reputation {
		if bytes.Equal(rd.Reputation[i].Hospital, h.pub("h3")) {
			h3 = &rd.Reputation[i]
		}
	}
	if h3 == nil || !h3.Flagged || h3.ScorePpm != 200_000 || !strings.Contains(strings.Join(h3.Reasons, ";"), "did not reveal") {
		t.Fatalf("h3 after two withheld reveals: %+v", h3)
	}
	res := h.check(h.tx("h3", commitMsg(1, 3, testUpdate(1, 1, 1, 1), 5)))
	if res.Code != protocol.CodeUnauthorized || !strings.Contains(res.Log, "flagged") {
		t.Fatalf("flagged commit: code %d %q", res.Code, res.Log)
	}
	reinstate := &pb.Msg{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: 1, Hospital: h.pub("h3"), Reason: "key rotated"}}}
	if r := h.check(h.tx("researcher", reinstate)); r.Code != protocol.CodeUnauthorized {
		t.Fatalf("researcher reinstating: code %d", r.Code)
	}
	h.mustOK(h.block(h.tx("admin", reinstate)))
	var rep pb.Reputation
	if err := rep.Unmarshal(h.query("/reputation/1")); err != nil {
		t.Fatal(err)
	}
	for _, sc := range rep.Scores {
		if bytes.Equal(sc.Hospital, h.pub("h3")) && (sc.Flagged || sc.ScorePpm != 1_000_000 || !strings.Contains(sc.Note, "key rotated")) {
			t.Fatalf("after reinstatement: %+v", sc)
		}
	}
	h.nonces["h3"] = 100
	h.mustOK(h.block(h.tx("h3", commitMsg(1, 3, testUpdate(1, 1, 1, 1), 5))))
}

// TestNoLockAcrossAggregation: while FinalizeBlock is inside a round's
// aggregation, queries and CheckTx still answer (the aggregation holds no
// lock they wait for). The timeout only turns a deadlock into a failure; no
// timing is measured.
func TestNoLockAcrossAggregation(t *testing.T) {
	h := newHarness(t, 1)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))))
	u := testUpdate(1, 2, 3, 4)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, u, 1)), h.tx("h2", commitMsg(1, 1, u, 1))))
	entered, release := make(chan struct{}), make(chan struct{})
	app := h.apps[0]
	app.beforeAggregate = func() {
		close(entered)
		<-release
	}
	reveals := [][]byte{h.tx("h1", revealMsg(1, 1, u)), h.tx("h2", revealMsg(1, 1, u))}
	done := make(chan error, 1)
	go func() {
		_, err := app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.height + 1, Txs: reveals})
		done <- err
	}()
	<-entered
	answered := make(chan string, 2)
	go func() {
		r, _ := app.Query(context.Background(), &abci.RequestQuery{Path: "/task/1"})
		answered <- fmt.Sprintf("query code %d", r.Code)
	}()
	go func() {
		r, _ := app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: h.tx("researcher", createTask(testSpec(h, "h1")))})
		answered <- fmt.Sprintf("checktx code %d", r.Code)
	}()
	for i := 0; i < 2; i++ {
		select {
		case got := <-answered:
			if !strings.HasSuffix(got, "code 0") {
				t.Errorf("during aggregation: %s", got)
			}
		case <-time.After(20 * time.Second):
			close(release) // let FinalizeBlock finish so that cleanup can close the app
			<-done
			t.Fatal("a query or CheckTx waited for the aggregation: a lock is held across it")
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
}
