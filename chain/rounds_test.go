package chain

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/fedledger/fedledger/aggregator"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

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

// TestAlikeUpdatesCountedOnce: with reputation on, two hospitals sending
// one step (5 % apart: past the 2 % sybil fact) are counted once through
// the chain: the later of them in the task's order gets weight 0 and the
// reason, with no penalty; the other three are untouched. Small models are
// compared exactly, large ones through the sketch keyed by the round's
// commitments.
func TestAlikeUpdatesCountedOnce(t *testing.T) {
	for _, d := range []int{testDim, aggregator.AlikeSketch + 477} {
		t.Run(fmt.Sprintf("d=%d", d), func(t *testing.T) {
			h := newHarness(t, 2)
			hs := []string{"h1", "h2", "h3", "h4", "h5"}
			spec := testSpec(h, hs...)
			spec.Rule, spec.Reputation, spec.Rounds = "median", true, 1
			spec.Model.InputDim = uint32(d - 1)
			spec.InitialModel, _ = pb.NewVector(16, pb.WIDTH_INT32, make([]int64, d))
			h.mustOK(h.block(h.tx("researcher", createTask(spec))))
			r := rand.New(rand.NewPCG(uint64(d), 1))
			ups := make([][]int64, len(hs))
			for i := range ups {
				ups[i] = make([]int64, d)
				for j := range ups[i] {
					ups[i][j] = r.Int64N(20_001) - 10_000
					if i == 4 { // h5: h4's step, 5 % of its size away
						ups[i][j] = ups[3][j] + (r.Int64N(2_001)-1_000)*ups[3][j]/10_000
					}
				}
			}
			var commits, reveals [][]byte
			for i, name := range hs {
				commits = append(commits, h.tx(name, commitMsg(1, 1, testUpdate(ups[i]...), 10)))
				reveals = append(reveals, h.tx(name, revealMsg(1, 1, testUpdate(ups[i]...))))
			}
			h.mustOK(h.block(commits...))
			h.mustOK(h.block(reveals...))
			rd := h.round(1, 1)
			if rd.Outcome != "aggregated" || len(rd.Weights) != 5 || len(rd.Reputation) != 5 {
				t.Fatalf("round: outcome %q, %d weights, %d changes", rd.Outcome, len(rd.Weights), len(rd.Reputation))
			}
			// The later of h4 and h5 in the task's order (by key) is the
			// one left out.
			order := slices.SortedFunc(slices.Values(spec.Hospitals), bytes.Compare)
			pos := map[string]int{}
			for i, k := range order {
				for _, name := range hs {
					if bytes.Equal(k, h.pub(name)) {
						pos[name] = i
					}
				}
			}
			kept, left := "h4", "h5"
			if pos["h5"] < pos["h4"] {
				kept, left = "h5", "h4"
			}
			for i, ch := range rd.Reputation {
				reasons := strings.Join(ch.Reasons, "; ")
				if bytes.Equal(ch.Hospital, h.pub(left)) {
					want := fmt.Sprintf("alike: counted once, with the update of the task's hospital #%d", pos[kept]+1)
					if rd.Weights[i] != 0 || ch.DeltaPpm != 0 || reasons != want {
						t.Errorf("%s: weight %d, delta %d, reasons %q; want 0, 0, %q", left, rd.Weights[i], ch.DeltaPpm, reasons, want)
					}
				} else if rd.Weights[i] == 0 || reasons != "" {
					t.Errorf("hospital %d: weight %d, reasons %q; want used, none", i, rd.Weights[i], reasons)
				}
			}
		})
	}
}
