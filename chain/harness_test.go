package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

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
	if k, ok := testKeys.Load(name); ok {
		return k.(ed25519.PrivateKey)
	}
	seed := sha256.Sum256([]byte("fedledger test key " + name))
	k := ed25519.NewKeyFromSeed(seed[:])
	testKeys.Store(name, k)
	return k
}

// testKeys memoizes testKey: deriving a key costs as much as a signature,
// and the fuzz targets sign every tx they run.
var testKeys sync.Map

// testGenesisBytes is testGenesis, computed once.
var testGenesisBytes = sync.OnceValue(func() []byte { return testGenesis() })

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
	return newHarnessWith(t, n, testGenesis())
}

// newHarnessWith starts n apps on the given genesis app_state.
func newHarnessWith(t testing.TB, n int, genesis []byte) *harness {
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
		if _, err := app.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, AppStateBytes: genesis}); err != nil {
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
	bz, err := pb.SignTx(h.keys[name], testChain, h.nonces[name], bind(name, testChain, msg))
	if err != nil {
		h.t.Fatal(err)
	}
	return bz
}

// raw signs msg for name exactly as given (no bind).
func (h *harness) raw(name string, msg *pb.Msg) []byte {
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

// testSalt is name's commitment salt in tests.
func testSalt(name string) []byte {
	s := sha256.Sum256([]byte("salt/" + name))
	return s[:]
}

// bind makes the messages of the helpers above what name would send: a
// commitment (made by commitMsg over the update's plain SHA-256) becomes
// protocol.Commitment bound to name's key and salt, and a reveal carries
// the salt. Other messages, and fields set already, are left as they are.
func bind(name, chainID string, msg *pb.Msg) *pb.Msg {
	switch m := msg.Sum.(type) {
	case *pb.Msg_CommitUpdate:
		c := *m.CommitUpdate
		if len(c.UpdateHash) == sha256.Size {
			c.UpdateHash = protocol.Commitment(chainID, c.TaskId, c.Round, testKey(name).Public().(ed25519.PublicKey), testSalt(name), c.UpdateHash)
		}
		return &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &c}}
	case *pb.Msg_RevealUpdate:
		r := *m.RevealUpdate
		if r.Salt == nil {
			r.Salt = testSalt(name)
		}
		return &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &r}}
	case *pb.Msg_RevealChunk:
		r := *m.RevealChunk
		if r.Salt == nil {
			r.Salt = testSalt(name)
		}
		return &pb.Msg{Sum: &pb.Msg_RevealChunk{RevealChunk: &r}}
	}
	return msg
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
