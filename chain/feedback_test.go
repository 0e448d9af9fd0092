package chain

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

func withScores(msg *pb.Msg, scores ...pb.UpdateScore) *pb.Msg {
	c := *msg.Sum.(*pb.Msg_CommitUpdate).CommitUpdate
	c.Scores = scores
	return &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &c}}
}

// TestFeedbackOnChain: scores ride on the next round's commitments, are
// checked (task, round, target, order, range), kept in the round record,
// and an update that all the others found harmful, in a round whose
// typical update none did, costs its sender reputation with the reason.
func TestFeedbackOnChain(t *testing.T) {
	h := newHarness(t, 1)
	hs := []string{"h1", "h2", "h3", "h4", "h5"}
	spec := testSpec(h, hs...)
	spec.Rule, spec.Reputation, spec.Feedback = "median", true, true
	noRep := spec
	noRep.Reputation = false
	if r := h.check(h.tx("researcher", createTask(noRep))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, "feedback needs reputation") {
		t.Fatalf("feedback without reputation: code %d %q", r.Code, r.Log)
	}
	big := spec
	big.Hospitals = nil
	for i := range protocol.MaxFeedbackInvited + 1 {
		big.Hospitals = append(big.Hospitals, bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16))
	}
	if r := h.check(h.tx("researcher", createTask(big))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, "101 hospitals invited with feedback, at most 100") {
		t.Fatalf("feedback over 100 hospitals: code %d %q", r.Code, r.Log)
	}
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	ups := map[string][]byte{}
	for i, n := range hs {
		ups[n] = testUpdate(int64(100+40*i), int64(50-30*i), int64(20*i*i), int64(i))
	}
	// Round 1: no previous round to score.
	if r := h.check(h.tx("h1", withScores(commitMsg(1, 1, ups["h1"], 5), pb.UpdateScore{Hospital: h.pub("h2"), LossDiffPpm: 1}))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, "no previous round") {
		t.Fatalf("scores in round 1: code %d %q", r.Code, r.Log)
	}
	var commits, reveals [][]byte
	for _, n := range hs {
		commits = append(commits, h.tx(n, commitMsg(1, 1, ups[n], 5)))
		reveals = append(reveals, h.tx(n, revealMsg(1, 1, ups[n])))
	}
	h.mustOK(h.block(commits...))
	h.mustOK(h.block(reveals...))
	if h.round(1, 1).Phase != pb.PHASE_CLOSED {
		t.Fatal("round 1 did not close")
	}
	// Scores of round 1: every hospital finds h5's update harmful and the
	// others' helpful.
	scoresBy := func(n string) []pb.UpdateScore { return h5Harmful(h, hs, n) }
	good := scoresBy("h1")
	bad := []struct {
		name   string
		scores []pb.UpdateScore
		want   string
	}{
		{"own update", append([]pb.UpdateScore{{Hospital: h.pub("h1"), LossDiffPpm: 1}}, good...), "own update"},
		{"out of order", []pb.UpdateScore{good[1], good[0]}, "not after"},
		{"twice", []pb.UpdateScore{good[0], good[0]}, "not after"},
		{"out of range", []pb.UpdateScore{{Hospital: good[0].Hospital, LossDiffPpm: 1_000_001}}, "want -1000000 to 1000000"},
		{"not a revealer", []pb.UpdateScore{{Hospital: h.pub("researcher"), LossDiffPpm: 1}}, "revealed no update in round 1"},
	}
	for _, c := range bad {
		if r := h.check(h.tx("h1", withScores(commitMsg(1, 2, ups["h1"], 5), c.scores...))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, c.want) {
			t.Errorf("%s: code %d %q, want %q", c.name, r.Code, r.Log, c.want)
		}
	}
	commits, reveals = nil, nil
	for _, n := range hs {
		commits = append(commits, h.tx(n, withScores(commitMsg(1, 2, ups[n], 5), scoresBy(n)...)))
		reveals = append(reveals, h.tx(n, revealMsg(1, 2, ups[n])))
	}
	h.mustOK(h.block(commits...))
	// Each commitment's scores are a record of their own until the round
	// closes, not part of the round record every transaction rewrites.
	if keys := h.apps[0].store.KeysWithPrefix("f/"); len(keys) != len(hs) {
		t.Fatalf("%d verdict records after %d commitments with scores", len(keys), len(hs))
	}
	h.mustOK(h.block(reveals...))
	rd := h.round(1, 2)
	if rd.Phase != pb.PHASE_CLOSED {
		t.Fatal("round 2 did not close")
	}
	if keys := h.apps[0].store.KeysWithPrefix("f/"); len(keys) != 0 {
		t.Fatalf("%d verdict records left after the round closed", len(keys))
	}
	for _, ch := range rd.Reputation {
		reasons := strings.Join(ch.Reasons, "; ")
		isH5 := bytes.Equal(ch.Hospital, h.pub("h5"))
		if isH5 != strings.Contains(reasons, "harms: its round 1 update was worse than its opposite for 4 of 4 credible scorers (of 4), where the round's typical update was for 0.17, spread ρ 0.00; chance 0.00077, under 0.1%") {
			t.Errorf("%X (h5 %v): reasons %q", ch.Hospital[:4], isH5, reasons)
		}
		if isH5 && (ch.DeltaPpm != -600_000 || !ch.Flagged) {
			t.Errorf("h5's change %d, want -600000 and flagged (%q)", ch.DeltaPpm, reasons)
		}
	}
	// A task without feedback takes no scores.
	plain := testSpec(h, "h1", "h2")
	h.mustOK(h.block(h.tx("researcher", createTask(plain))))
	if r := h.check(h.tx("h1", withScores(commitMsg(2, 1, ups["h1"], 5), good[0]))); r.Code != protocol.CodeInvalidMsg || !strings.Contains(r.Log, "takes none") {
		t.Fatalf("scores to a task without feedback: code %d %q", r.Code, r.Log)
	}
}

// h5Harmful is scorer n's verdicts on the others' updates, sorted by key:
// h5's harmful, every other helpful.
func h5Harmful(h *harness, hs []string, n string) []pb.UpdateScore {
	var out []pb.UpdateScore
	for _, m := range hs {
		if m == n {
			continue
		}
		v := int64(-200_000)
		if m == "h5" {
			v = 300_000
		}
		out = append(out, pb.UpdateScore{Hospital: h.pub(m), LossDiffPpm: v})
	}
	sortScores(out)
	return out
}

func sortScores(s []pb.UpdateScore) {
	slices.SortFunc(s, func(a, b pb.UpdateScore) int { return bytes.Compare(a.Hospital, b.Hospital) })
}

// TestFeedbackClaimedRows: an update is judged whatever row count its
// commitment claims. Claims are free under the median, so a judgment that
// spared small claims would spare any attacker who makes one (measured in
// docs/robustness.md, design step 14).
func TestFeedbackClaimedRows(t *testing.T) {
	hs := []string{"h1", "h2", "h3", "h4", "h5"}
	for _, rows := range []uint64{1, testDim, 1 << 20} {
		h := newHarness(t, 1)
		spec := testSpec(h, hs...)
		spec.Rule, spec.Reputation, spec.Feedback = "median", true, true
		h.mustOK(h.block(h.tx("researcher", createTask(spec))))
		for r := uint32(1); r <= 2; r++ {
			var commits, reveals [][]byte
			for i, n := range hs {
				up := testUpdate(int64(100+40*i), int64(50-30*i), int64(20*i*i), int64(i))
				claim := uint64(50)
				if n == "h5" {
					claim = rows
				}
				var scores []pb.UpdateScore
				if r > 1 {
					scores = h5Harmful(h, hs, n)
				}
				commits = append(commits, h.tx(n, withScores(commitMsg(1, r, up, claim), scores...)))
				reveals = append(reveals, h.tx(n, revealMsg(1, r, up)))
			}
			h.mustOK(h.block(commits...))
			h.mustOK(h.block(reveals...))
		}
		for _, ch := range h.round(1, 2).Reputation {
			if !bytes.Equal(ch.Hospital, h.pub("h5")) {
				continue
			}
			if reasons := strings.Join(ch.Reasons, "; "); !strings.Contains(reasons, "harms:") || !ch.Flagged {
				t.Errorf("h5 claimed %d rows: reasons %q, flagged %v; want judged harmful and flagged", rows, reasons, ch.Flagged)
			}
		}
	}
}
