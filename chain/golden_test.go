package chain

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenAppHash scripts a chain that sends every tx kind (tasks under
// every rule with reputation and an adaptive server optimizer, commits,
// whole and chunked reveals, a copy attempt, a reinstatement, a change of
// params; records anchors, a grant, logged reads, break-glass, a review
// and a revocation; a cancelled task; a task with validation feedback) on two apps, and pins the app hash after every block in
// testdata/golden_apphash.txt (go test -run GoldenAppHash -update rewrites
// it). Any change to the state machine's results shows here; the same
// script runs as arm64 code under qemu (TestGoldenOnArm64).
func TestGoldenAppHash(t *testing.T) {
	h := newHarness(t, 2)
	var hashes []string
	block := func(txs ...[]byte) {
		res := h.block(txs...)
		for i, r := range res.TxResults {
			if r.Code == protocol.CodeInternal {
				t.Fatalf("height %d tx %d: %s", h.height, i, r.Log)
			}
		}
		hashes = append(hashes, hex.EncodeToString(res.AppHash))
	}
	hs := []string{"h1", "h2", "h3", "h4"}
	rules := []string{"fedavg", "median", "trimmed_mean", "multikrum", "normclip", "centeredclip"}
	// ruleTask runs a two-round task of the rule as task number task, with
	// server optimizer opt ("" for none).
	ruleTask := func(task uint64, rule, opt string) {
		spec := testSpec(h, hs...)
		spec.Rule, spec.Reputation, spec.Rounds = rule, true, 2
		if opt != "" {
			spec.ServerOpt = protocol.ServerOpts()[opt]
		}
		block(h.tx("researcher", createTask(spec)))
		for r := uint32(1); r <= 2; r++ {
			var commits, reveals [][]byte
			for k, name := range hs {
				vals := []int64{int64(k)*300 - 400, int64(r) * 50, 1 << 14, int64(k*k) - 2}
				if name == "h4" {
					vals = []int64{-(1 << 20), 1 << 20, -(1 << 20), 1 << 20} // an outlier the rules and reputation see
				}
				up := testUpdate(vals...)
				commits = append(commits, h.tx(name, commitMsg(task, r, up, uint64(10*(k+1)))))
				reveals = append(reveals, h.tx(name, revealMsg(task, r, up)))
			}
			block(commits...)
			block(reveals...)
			for h.round(task, r).Phase != pb.PHASE_CLOSED {
				block()
			}
		}
	}
	for i, rule := range rules {
		opt := ""
		if i%2 == 1 {
			opt = []string{"fedavgm", "fedadam", "fedyogi"}[i/2]
		}
		ruleTask(uint64(i+1), rule, opt)
	}
	// A chunked reveal, a copy attempt, a reinstatement, new params.
	spec := testSpec(h, "h1", "h2")
	spec.Reputation, spec.Rounds = true, 1
	block(h.tx("researcher", createTask(spec)))
	task := uint64(len(rules) + 1)
	up := testUpdate(7, 7, 7, 7)
	c, parts := chunkedCommit(task, 1, up, 2)
	copied := bind("h1", testChain, commitMsg(task, 1, up, 5)).GetCommitUpdate().UpdateHash
	block(h.tx("h1", c), h.raw("h2", &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{TaskId: task, Round: 1, UpdateHash: copied, NumSamples: 5}}}))
	block(h.tx("h1", chunkMsg(task, 1, 0, parts[0])), h.tx("h1", chunkMsg(task, 1, 1, parts[1])))
	block(h.raw("h2", &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: task, Round: 1, Update: up, Salt: testSalt("h1")}}}))
	for h.round(task, 1).Phase != pb.PHASE_CLOSED {
		block()
	}
	block(h.tx("admin", &pb.Msg{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: 2, Hospital: h.pub("h4"), Reason: "golden"}}}))
	block(h.tx("admin", &pb.Msg{Sum: &pb.Msg_UpdateParams{UpdateParams: &pb.UpdateParams{MaxHospitals: 50}}}))
	// Records: anchors over two blocks (the log's compact range carried
	// across), a grant, a logged read, break-glass, its review, revocation.
	var leaves [][]byte
	for i := range 37 {
		leaves = append(leaves, testLeaf(i))
	}
	block(h.tx("h1", anchorMsg(leaves[:13]...)), h.tx("h2", anchorMsg(leaves[13:14]...)))
	block(h.tx("h1", anchorMsg(leaves[13:]...)), h.tx("h1", grantMsg(h.pub("researcher"), uint64(h.height)+100)))
	at := uint64(h.height)
	block(h.tx("h1", logMsg(accessEvent(h.pub("researcher"), 1, 0, at))), h.tx("h2", breakGlassMsg(h.pub("h1"), testLeaf(0), "golden")))
	block(h.tx("h1", logMsg(accessEvent(h.pub("h2"), 0, 1, at+1))), h.tx("reviewer", closeMsg(1, "golden")), h.tx("h1", revokeMsg(1)))
	// The final model's metrics, reported on a finished task.
	block(h.tx("h1", reportMsg(1, 654321)), h.tx("h4", reportMsg(1, 123456)))
	var done pb.Task
	if err := done.Unmarshal(h.query(protocol.TaskPath(1))); err != nil || len(done.FinalMetrics) != 2 {
		t.Fatalf("the golden script's final metrics: %+v, %v", done.FinalMetrics, err)
	}
	// A cancelled task, mid-round.
	spec = testSpec(h, "h1", "h2")
	block(h.tx("researcher", createTask(spec)))
	cancelled := uint64(len(rules) + 2)
	block(h.tx("h1", commitMsg(cancelled, 1, up, 5)))
	block(h.tx("researcher", cancelMsg(cancelled, "golden")))
	var ct pb.Task
	if err := ct.Unmarshal(h.query(protocol.TaskPath(cancelled))); err != nil || ct.Status != pb.TASK_STATUS_CANCELLED {
		t.Fatalf("the golden script's task %d is %v (%v), not cancelled", cancelled, ct.Status, err)
	}
	// A task with validation feedback: from round 2 the commitments carry
	// scores of the round before, h4's update harmful to all.
	spec = testSpec(h, hs...)
	spec.Rule, spec.Reputation, spec.Feedback, spec.Rounds = "median", true, true, 3
	block(h.tx("researcher", createTask(spec)))
	fbTask := cancelled + 1
	for r := uint32(1); r <= 3; r++ {
		var commits, reveals [][]byte
		for k, name := range hs {
			up := testUpdate(int64(k)*500-700, int64(r)*90, int64(k*k)*40, int64(k))
			msg := commitMsg(fbTask, r, up, 10)
			if r > 1 {
				var scores []pb.UpdateScore
				for q, other := range hs {
					if other != name {
						v := int64(-(q+1)*1000 - k)
						if other == "h4" {
							v = int64(250_000 + k)
						}
						scores = append(scores, pb.UpdateScore{Hospital: h.pub(other), LossDiffPpm: v})
					}
				}
				sortScores(scores)
				msg = withScores(msg, scores...)
			}
			commits = append(commits, h.tx(name, msg))
			reveals = append(reveals, h.tx(name, revealMsg(fbTask, r, up)))
		}
		block(commits...)
		block(reveals...)
		for h.round(fbTask, r).Phase != pb.PHASE_CLOSED {
			block()
		}
	}
	if rd := h.round(fbTask, 2); !strings.Contains(fmt.Sprint(rd.Reputation), "harms: its round 1 update") {
		t.Fatalf("the golden script's feedback task judged nothing: %v", rd.Reputation)
	}
	// Rules added since (AppVersion 14: huber), after the script above so
	// that its hashes stay as they were.
	ruleTask(fbTask+1, "huber", "")
	if n := h.logHead(protocol.AccessLogPath(h.pub("h1"))).TreeSize; n != 2 {
		t.Fatalf("the golden script logged %d reads, want 2", n)
	}
	if n := h.logHead(protocol.RecordLogPath(h.pub("h1"))).TreeSize; n != 37 {
		t.Fatalf("the golden script anchored %d leaves at h1, want 37", n)
	}

	got := strings.Join(hashes, "\n") + "\n"
	path := filepath.Join("testdata", "golden_apphash.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./chain -run GoldenAppHash -update)", err)
	}
	if got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("app hash after block %d is %s, golden %s (of %d blocks); a change to the state machine's results must bump AppVersion and rewrite the golden file with -update", i+1, g[i], w[i], len(w)-1)
			}
		}
		t.Fatalf("%d blocks, golden has %d", len(g)-1, len(w)-1)
	}
}
