package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"runtime"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

func int64Update(vals ...int64) []byte {
	v, err := pb.NewVector(16, pb.WIDTH_INT64, vals)
	if err != nil {
		panic(err)
	}
	bz, _ := v.Marshal()
	return bz
}

// TestExtremeUpdatesDoNotHalt: in tasks that take int64 updates, two
// hospitals reveal values at ±2^63 under every robust rule with reputation
// and under each adaptive server optimizer. FinalizeBlock must not fail or
// panic (on the old main the norm's square root panicked and halted every
// validator for good): the round closes, aggregated or failed with its
// reason, every app agrees, and the chain goes on to the next round.
func TestExtremeUpdatesDoNotHalt(t *testing.T) {
	cases := []struct {
		rule string
		rep  bool
		opt  string
	}{
		{"median", true, ""}, {"trimmed_mean", true, ""}, {"multikrum", true, ""}, {"normclip", true, ""},
		{"centeredclip", true, ""}, {"fedavg", true, ""}, {"fedavg", false, "fedadam"}, {"fedavg", false, "fedyogi"},
		{"fedavg", false, "fedadagrad"}, {"median", true, "fedavgm"},
	}
	for _, c := range cases {
		t.Run(c.rule+"+"+c.opt, func(t *testing.T) {
			h := newHarness(t, 2)
			hs := []string{"h1", "h2", "h3", "h4"}
			spec := testSpec(h, hs...)
			spec.Rule, spec.Reputation, spec.Rounds = c.rule, c.rep, 2
			spec.Compression = pb.Compression{Width: pb.WIDTH_INT64}
			if c.opt != "" {
				spec.ServerOpt = protocol.ServerOpts()[c.opt]
			}
			h.mustOK(h.block(h.tx("researcher", createTask(spec))))
			ups := [][]byte{
				int64Update(math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64+1),
				int64Update(math.MinInt64, math.MinInt64, math.MaxInt64, 1<<62),
				int64Update(3, -2, 1, 0),
				int64Update(2, -1, 1, 1),
			}
			var commits, reveals [][]byte
			for i, name := range hs {
				commits = append(commits, h.tx(name, commitMsg(1, 1, ups[i], 10)))
				reveals = append(reveals, h.tx(name, revealMsg(1, 1, ups[i])))
			}
			h.mustOK(h.block(commits...))
			h.mustOK(h.block(reveals...))
			rd := h.round(1, 1)
			if rd.Phase != pb.PHASE_CLOSED || (rd.Outcome != "aggregated" && !strings.HasPrefix(rd.Outcome, "failed: ")) {
				t.Fatalf("round 1: phase %v, outcome %q", rd.Phase, rd.Outcome)
			}
			if r2 := h.round(1, 2); r2.Phase != pb.PHASE_COMMIT {
				t.Fatalf("round 2 did not open: %v", r2.Phase)
			}
			h.block() // the chain goes on
			t.Logf("outcome %q", rd.Outcome)
		})
	}
}

// TestUpdateWidthRefused: a task that declares no compression takes int32
// updates only; an int64 update is refused at reveal with CodeBadShape.
func TestUpdateWidthRefused(t *testing.T) {
	h := newHarness(t, 1)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1")))))
	up := int64Update(math.MaxInt64, 0, 0, 0)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, up, 10))))
	if res := h.check(h.tx("h1", revealMsg(1, 1, up))); res.Code != protocol.CodeBadShape || !strings.Contains(res.Log, "int32") {
		t.Fatalf("int64 reveal: code %d %q, want CodeBadShape", res.Code, res.Log)
	}
}

// TestOneTxOneHash: bytes that decode to a valid signed transaction but
// are not its canonical encoding (an unknown field appended, here) are
// refused, so a copy under another hash cannot exist. On the old main the
// appended field verified and was accepted.
func TestOneTxOneHash(t *testing.T) {
	h := newHarness(t, 1)
	tx := h.tx("researcher", createTask(testSpec(h, "h1")))
	padded := append(append([]byte(nil), tx...), 0x78, 0x01) // field 15, varint 1
	if res := h.check(padded); res.Code != protocol.CodeDecode || !strings.Contains(res.Log, "canonical") {
		t.Fatalf("padded tx: code %d %q, want CodeDecode", res.Code, res.Log)
	}
	if res := h.block(padded); res.TxResults[0].Code != protocol.CodeDecode {
		t.Fatalf("padded tx in a block: code %d", res.TxResults[0].Code)
	}
	h.mustOK(h.block(tx))
}

// TestNonceCannotBeExhausted: a nonce more than MaxNonceGap above the
// signer's last is refused (nonce 2^64−1 used to brick the key: no larger
// nonce exists), and the key goes on signing.
func TestNonceCannotBeExhausted(t *testing.T) {
	h := newHarness(t, 1)
	for _, n := range []uint64{math.MaxUint64, protocol.MaxNonceGap + 1} {
		bz, err := pb.SignTx(h.keys["researcher"], testChain, n, createTask(testSpec(h, "h1")))
		if err != nil {
			t.Fatal(err)
		}
		if res := h.block(bz); res.TxResults[0].Code != protocol.CodeBadNonce {
			t.Fatalf("nonce %d: code %d %q, want CodeBadNonce", n, res.TxResults[0].Code, res.TxResults[0].Log)
		}
	}
	bz, _ := pb.SignTx(h.keys["researcher"], testChain, protocol.MaxNonceGap, createTask(testSpec(h, "h1")))
	h.mustOK(h.block(bz))
	h.nonces["researcher"] = protocol.MaxNonceGap
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1")))))
}

// TestCapsBeforeWork: a cheap CreateTask that asks for a model over the
// chain's max_params is refused with CodeOverLimit at CheckTx and in the
// block, having allocated next to nothing (the old main drew the whole
// model, in CheckTx and again in FinalizeBlock: 128 MiB for this one), and
// a model within the caps is drawn in FinalizeBlock only.
func TestCapsBeforeWork(t *testing.T) {
	h := newHarness(t, 1)
	spec := testSpec(h, "h1")
	spec.Model = pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 4000, HiddenDim: 4000, InitSeed: 1}
	spec.InitialModel = pb.Vector{}
	tx := h.tx("researcher", createTask(spec))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := h.check(tx)
	runtime.ReadMemStats(&after)
	if res.Code != protocol.CodeOverLimit || !strings.Contains(res.Log, "max_params") {
		t.Fatalf("16M-parameter task: code %d %q, want CodeOverLimit", res.Code, res.Log)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("CheckTx allocated %d bytes to refuse a %d-byte tx", grew, len(tx))
	}
	if r := h.block(tx); r.TxResults[0].Code != protocol.CodeOverLimit {
		t.Fatalf("in a block: code %d", r.TxResults[0].Code)
	}
	// Within the caps: CheckTx does not draw; the block does.
	spec.Model = pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 300, HiddenDim: 1000, InitSeed: 1}
	tx = h.tx("researcher", createTask(spec))
	runtime.GC()
	runtime.ReadMemStats(&before)
	res = h.check(tx)
	runtime.ReadMemStats(&after)
	if res.Code != protocol.CodeOK {
		t.Fatalf("302k-parameter task: code %d %q", res.Code, res.Log)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("CheckTx allocated %d bytes: it drew the model", grew)
	}
	h.mustOK(h.block(tx))
	var m pb.GlobalModel
	if err := m.Unmarshal(h.query("/model/1/0")); err != nil || m.Weights.Len != 302_001 {
		t.Fatalf("drawn model: %v, %d values", err, m.Weights.Len)
	}
}

// TestGenesisParams: caps come from the genesis "training" section, are
// queryable at /params, and bind: a task over max_hospitals is refused; a
// section with an unknown field or an out-of-range cap stops the chain
// from starting.
func TestGenesisParams(t *testing.T) {
	g, err := ParseGenesis(testGenesis())
	if err != nil {
		t.Fatal(err)
	}
	g.Modules = map[string]json.RawMessage{"training": json.RawMessage(`{"params": {"max_hospitals": 2}}`)}
	bz, _ := json.Marshal(g)
	h := newHarnessWith(t, 1, bz)
	h.block() // genesis state is committed with block 1
	var p protocol.Params
	if err := json.Unmarshal(h.query("/params"), &p); err != nil || p.MaxHospitals != 2 || p.MaxParams != protocol.DefaultParams().MaxParams {
		t.Fatalf("/params: %+v %v", p, err)
	}
	res := h.check(h.tx("researcher", createTask(testSpec(h, "h1", "h2", "h3"))))
	if res.Code != protocol.CodeOverLimit || !strings.Contains(res.Log, "max_hospitals") {
		t.Fatalf("3 hospitals: code %d %q", res.Code, res.Log)
	}
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))))
	for _, sec := range []string{`{"params": {"max_hospitalz": 2}}`, `{"params": {"max_chunks": 100000}}`} {
		g.Modules["training"] = json.RawMessage(sec)
		bz, _ := json.Marshal(g)
		app, err := NewApp(DefaultConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, AppStateBytes: bz})
		app.Close()
		if err == nil {
			t.Errorf("genesis training section %s accepted", sec)
		}
	}
}

// TestCopiedCommitmentCannotBeRevealed: h2 copies h1's commitment from the
// mempool and, once h1 revealed, replays h1's update and salt from the
// blocks. The commitment binds h1's key, so h2's reveal is refused with
// CodeCopied whatever salt it tries; h1's reveal counts once, with h1's
// weight, and h1 is not taken for a sybil. On the old main (plain SHA-256
// commitments) h2's reveal was accepted and h1's update counted twice.
func TestCopiedCommitmentCannotBeRevealed(t *testing.T) {
	h := newHarness(t, 2)
	spec := testSpec(h, "h1", "h2", "h3")
	spec.Rule, spec.Reputation = "median", true
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	u1, u3 := testUpdate(5, 5, 5, 5), testUpdate(4, 6, 5, 5)
	copied := bind("h1", testChain, commitMsg(1, 1, u1, 10)).GetCommitUpdate().UpdateHash
	copyMsg := &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{TaskId: 1, Round: 1, UpdateHash: copied, NumSamples: 1000}}}
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, u1, 10)), h.raw("h2", copyMsg), h.tx("h3", commitMsg(1, 1, u3, 10))))
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, u1))))
	for _, salt := range [][]byte{testSalt("h1"), testSalt("h2")} {
		steal := &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: 1, Round: 1, Update: u1, Salt: salt}}}
		if res := h.block(h.raw("h2", steal)); res.TxResults[0].Code != protocol.CodeCopied {
			t.Fatalf("h2 reveals h1's update: code %d %q, want CodeCopied", res.TxResults[0].Code, res.TxResults[0].Log)
		}
	}
	h.mustOK(h.block(h.tx("h3", revealMsg(1, 1, u3))))
	for rd := h.round(1, 1); rd.Phase != pb.PHASE_CLOSED; rd = h.round(1, 1) {
		h.block()
	}
	rd := h.round(1, 1)
	if rd.NumAggregated != 2 || rd.Outcome != "aggregated" {
		t.Fatalf("round: %d aggregated, %q; want h1 and h3", rd.NumAggregated, rd.Outcome)
	}
	for _, ch := range rd.Reputation {
		if bytes.Equal(ch.Hospital, h.pub("h1")) && ch.DeltaPpm < 0 {
			t.Errorf("the victim h1 lost reputation: %v", ch.Reasons)
		}
		if bytes.Equal(ch.Hospital, h.pub("h2")) && !strings.Contains(strings.Join(ch.Reasons, ";"), "did not reveal") {
			t.Errorf("the copier h2: %v", ch.Reasons)
		}
	}
}

// TestUpdateParams: an admin changes the caps, which bind from the next
// transaction on; nobody else may, and out-of-range caps are refused.
func TestUpdateParams(t *testing.T) {
	h := newHarness(t, 1)
	up := func(p *pb.UpdateParams) *pb.Msg { return &pb.Msg{Sum: &pb.Msg_UpdateParams{UpdateParams: p}} }
	if res := h.block(h.tx("researcher", up(&pb.UpdateParams{MaxHospitals: 1}))); res.TxResults[0].Code != protocol.CodeUnauthorized {
		t.Fatalf("researcher changes params: code %d", res.TxResults[0].Code)
	}
	if res := h.block(h.tx("admin", up(&pb.UpdateParams{MaxChunks: 1 << 20}))); res.TxResults[0].Code != protocol.CodeInvalidMsg {
		t.Fatalf("max_chunks 2^20: code %d", res.TxResults[0].Code)
	}
	h.mustOK(h.block(h.tx("admin", up(&pb.UpdateParams{MaxHospitals: 1}))))
	if res := h.check(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))); res.Code != protocol.CodeOverLimit {
		t.Fatalf("2 hospitals after max_hospitals 1: code %d %q", res.Code, res.Log)
	}
	var p protocol.Params
	if err := json.Unmarshal(h.query("/params"), &p); err != nil || p.MaxHospitals != 1 || p.MaxChunks != protocol.DefaultParams().MaxChunks {
		t.Fatalf("/params after the update: %+v %v", p, err)
	}
}

// TestQueryAnswerCap: an answer over max_query_bytes is refused with
// CodeOverLimit, and the items it would list still answer one by one.
func TestQueryAnswerCap(t *testing.T) {
	g, err := ParseGenesis(testGenesis())
	if err != nil {
		t.Fatal(err)
	}
	g.Modules = map[string]json.RawMessage{"training": json.RawMessage(`{"params": {"max_query_bytes": 300}}`)}
	bz, _ := json.Marshal(g)
	h := newHarnessWith(t, 1, bz)
	for range 3 {
		h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1", "h2")))))
	}
	resp, err := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: "/tasks"})
	if err != nil || resp.Code != protocol.CodeOverLimit || !strings.Contains(resp.Log, "max_query_bytes") {
		t.Fatalf("/tasks over the cap: %v code %d %q", err, resp.Code, resp.Log)
	}
	var task pb.Task
	if err := task.Unmarshal(h.query("/task/3")); err != nil || task.Id != 3 {
		t.Fatalf("/task/3: %v", err)
	}
}

// TestCapsCountModelVectors: max_params bounds the model-sized vectors a
// task keeps together, so a model the caps allow a plain task is refused
// to a task with FedAdam and centeredclip (four vectors), with a code
// that says so, and a quarter of it is taken.
func TestCapsCountModelVectors(t *testing.T) {
	h := newHarness(t, 1)
	spec := testSpec(h, "h1")
	spec.InitialModel = pb.Vector{}
	spec.Rule = "centeredclip"
	spec.ServerOpt = pb.ServerOpt{Name: "fedadam", LrMicro: 100_000, Beta1Micro: 900_000, Beta2Micro: 990_000, TauMicro: 1_000}
	spec.Model = pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 1000, HiddenDim: 1000, InitSeed: 1} // 1,002,001 parameters
	res := h.check(h.tx("researcher", createTask(spec)))
	if res.Code != protocol.CodeOverLimit || !strings.Contains(res.Log, "4 model-sized vectors") {
		t.Fatalf("1M-parameter centeredclip+fedadam task: code %d %q, want CodeOverLimit naming 4 vectors", res.Code, res.Log)
	}
	spec.Model.HiddenDim = 400 // 400,801 parameters: 4 × that is within 2·10^6
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	spec.Rule, spec.ServerOpt = "median", pb.ServerOpt{}
	spec.Model.HiddenDim = 1000
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
}

// TestNonCanonicalUpdateRefused: an update whose bytes decode to a valid
// vector but are not its canonical encoding (a zero field written out,
// here) is refused at reveal with CodeBadShape, in CheckTx and in the
// block, and nothing of it is stored. The round's
// close reads stored updates in place, so it takes only the one encoding
// a commitment can name.
func TestNonCanonicalUpdateRefused(t *testing.T) {
	h := newHarness(t, 1)
	h.mustOK(h.block(h.tx("researcher", createTask(testSpec(h, "h1")))))
	vals := make([]int64, testDim)
	vals[0] = 5
	up := testUpdate(vals...)
	odd := append([]byte{0x38, 0x00}, up...) // sparse = false, written out
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, odd, 10))))
	reveal := h.tx("h1", revealMsg(1, 1, odd))
	if res := h.check(reveal); res.Code != protocol.CodeBadShape || !strings.Contains(res.Log, "canonical") {
		t.Fatalf("non-canonical update: code %d %q, want CodeBadShape naming the encoding", res.Code, res.Log)
	}
	if res := h.block(reveal); res.TxResults[0].Code != protocol.CodeBadShape {
		t.Fatalf("in a block: code %d", res.TxResults[0].Code)
	}
	if rd := h.round(1, 1); rd.Submissions[0].Revealed {
		t.Fatal("a refused reveal was recorded")
	}
}
