package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

func anchorMsg(leaves ...[]byte) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_AnchorRecords{AnchorRecords: &pb.AnchorRecords{Leaves: leaves}}}
}

func grantMsg(grantee []byte, expires uint64) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{
		Grantee: grantee, Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: expires}}}
}

func revokeMsg(id uint64) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_RevokeGrant{RevokeGrant: &pb.RevokeGrant{GrantId: id}}}
}

func breakGlassMsg(holder, record []byte, reason string) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_BreakGlass{BreakGlass: &pb.BreakGlass{Holder: holder, Record: record, Reason: reason}}}
}

func closeMsg(id uint64, note string) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_CloseReview{CloseReview: &pb.CloseReview{ReviewId: id, Note: note}}}
}

func logMsg(events ...pb.AccessEvent) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_LogAccess{LogAccess: &pb.LogAccess{Events: events}}}
}

// accessEvent is a research read under grant (or a break-glass read under
// review) of testLeaf(0), checked at height.
func accessEvent(agent []byte, grant, review, height uint64) pb.AccessEvent {
	purpose := pb.PURPOSE_RESEARCH
	if review != 0 {
		purpose = pb.PURPOSE_BREAK_GLASS
	}
	req := sha256.Sum256([]byte(fmt.Sprint(agent, grant, review, height)))
	return pb.AccessEvent{Agent: agent, Record: testLeaf(0), Height: height, Purpose: purpose,
		Outcome: pb.OUTCOME_SERVED, GrantId: grant, ReviewId: review, Request: req[:]}
}

func testLeaf(i int) []byte {
	s := sha256.Sum256([]byte(fmt.Sprintf("record %d", i)))
	return s[:]
}

func (h *harness) logHead(path string) *pb.LogHead {
	h.t.Helper()
	var head pb.LogHead
	if err := head.Unmarshal(h.query(path)); err != nil {
		h.t.Fatal(err)
	}
	return &head
}

// hashes reads an unproved list of hashes (a Merkle proof).
func (h *harness) hashes(path string) [][]byte {
	h.t.Helper()
	var out pb.Hashes
	if err := out.Unmarshal(h.queryRaw(path, 0)); err != nil {
		h.t.Fatal(err)
	}
	return out.Hashes
}

// queryRaw asks path without a proof and wants code.
func (h *harness) queryRaw(path string, code uint32) []byte {
	h.t.Helper()
	resp, err := h.apps[0].Query(context.Background(), &abci.RequestQuery{Path: path})
	if err != nil || resp.Code != code {
		h.t.Fatalf("query %s: %v code %d (%s), want %d", path, err, resp.Code, resp.Log, code)
	}
	return resp.Value
}

func wantCode(t *testing.T, what string, got, want uint32, log string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: code %d (%s), want %d", what, got, log, want)
	}
}

// TestRecordLog: a hospital's anchors grow its log across blocks, on two
// apps that agree; every leaf proves its inclusion against the proved log
// head; today's head proves it extends yesterday's; an altered leaf, a
// leaf at the wrong index and a rewritten history each fail.
func TestRecordLog(t *testing.T) {
	h := newHarness(t, 2)
	h.block()
	var leaves [][]byte
	var heads []*pb.LogHead
	path := protocol.RecordLogPath(h.pub("h1"))
	for b, n := range []int{1, 6, 25} {
		batch := make([][]byte, n)
		for i := range batch {
			batch[i] = testLeaf(len(leaves) + i)
		}
		h.mustOK(h.block(h.tx("h1", anchorMsg(batch...))))
		leaves = append(leaves, batch...)
		heads = append(heads, h.logHead(path))
		if got := heads[b].TreeSize; got != uint64(len(leaves)) {
			t.Fatalf("after block %d the log has %d leaves, want %d", b, got, len(leaves))
		}
	}
	head := heads[len(heads)-1]
	for i, leaf := range leaves {
		p := h.hashes(protocol.InclusionPath(protocol.LogRecords, h.pub("h1"), uint64(i), head.TreeSize))
		if err := protocol.VerifyLeaf(head, uint64(i), leaf, p); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		altered := bytes.Clone(leaf)
		altered[0] ^= 1
		if err := protocol.VerifyLeaf(head, uint64(i), altered, p); !errors.Is(err, protocol.ErrNotInLog) {
			t.Fatalf("altered leaf %d verified: %v", i, err)
		}
		if i > 0 {
			if err := protocol.VerifyLeaf(head, uint64(i-1), leaf, p); err == nil {
				t.Fatalf("leaf %d verified at index %d", i, i-1)
			}
		}
	}
	// An old leaf proves against an old head too.
	p := h.hashes(protocol.InclusionPath(protocol.LogRecords, h.pub("h1"), 0, heads[0].TreeSize))
	if err := protocol.VerifyLeaf(heads[0], 0, leaves[0], p); err != nil {
		t.Fatal(err)
	}
	for _, old := range heads[:len(heads)-1] {
		c := h.hashes(protocol.ConsistencyPath(protocol.LogRecords, h.pub("h1"), old.TreeSize, head.TreeSize))
		if err := protocol.VerifyExtends(old, head, c); err != nil {
			t.Fatalf("head of %d does not extend head of %d: %v", head.TreeSize, old.TreeSize, err)
		}
	}
	// Rewritten history: the same number of leaves, one of the old ones
	// changed, on another chain. Its head cannot prove it extends the
	// old head.
	h2 := newHarness(t, 1)
	h2.block()
	forged := append([][]byte(nil), leaves...)
	forged[3] = testLeaf(999)
	h2.mustOK(h2.block(h2.tx("h1", anchorMsg(forged...))))
	fh := h2.logHead(path)
	c := h2.hashes(protocol.ConsistencyPath(protocol.LogRecords, h.pub("h1"), heads[1].TreeSize, fh.TreeSize))
	if err := protocol.VerifyExtends(heads[1], fh, c); !errors.Is(err, protocol.ErrNotInLog) {
		t.Fatalf("a rewritten log extends the original: %v", err)
	}
	// Another hospital's log is its own, empty.
	h.queryRaw(protocol.RecordLogPath(h.pub("h2")), protocol.CodeNotFound)
	// A proof beyond the log is refused.
	h.queryRaw(protocol.InclusionPath(protocol.LogRecords, h.pub("h1"), 0, head.TreeSize+1), protocol.CodeNotFound)
}

// TestRecordsBadInput: each malformed or unauthorized records message is
// refused with its own code, in CheckTx and in the block, and writes
// nothing: the app hash of a block of refused messages is the last one.
func TestRecordsBadInput(t *testing.T) {
	h := newHarness(t, 1)
	h.block()
	h.mustOK(h.block(h.tx("h1", anchorMsg(testLeaf(0))),
		h.tx("h1", grantMsg(h.pub("researcher"), 100)),
		h.tx("h2", breakGlassMsg(h.pub("h1"), testLeaf(0), "arrest in ED"))))
	unknown := []byte(testKey("stranger").Public().(ed25519.PublicKey))
	long := make([][]byte, protocol.MaxAnchorLeaves+1)
	for i := range long {
		long[i] = testLeaf(i)
	}
	cases := []struct {
		name   string
		signer string
		msg    *pb.Msg
		code   uint32
	}{
		{"empty anchor", "h1", anchorMsg(), protocol.CodeInvalidMsg},
		{"short leaf", "h1", anchorMsg(testLeaf(1)[:31]), protocol.CodeInvalidMsg},
		{"too many leaves", "h1", anchorMsg(long...), protocol.CodeInvalidMsg},
		{"researcher anchors", "researcher", anchorMsg(testLeaf(1)), protocol.CodeUnauthorized},
		{"unknown grantee", "h1", grantMsg(unknown, 100), protocol.CodeUnknownGrantee},
		{"grantee not a key", "h1", grantMsg([]byte("bob"), 100), protocol.CodeInvalidMsg},
		{"expired at birth", "h1", grantMsg(h.pub("researcher"), 2), protocol.CodeInvalidMsg},
		{"bad scope", "h1", &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: h.pub("researcher"), Kind: pb.SCOPE_RECORD, Scope: []byte("x"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 100}}}, protocol.CodeInvalidMsg},
		{"break-glass purpose granted", "h1", &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: h.pub("researcher"), Kind: pb.SCOPE_RECORD, Scope: testLeaf(0), Purpose: pb.PURPOSE_BREAK_GLASS, ExpiresHeight: 100}}}, protocol.CodeInvalidMsg},
		{"researcher grants", "researcher", grantMsg(h.pub("h1"), 100), protocol.CodeUnauthorized},
		{"revoke unknown", "h1", revokeMsg(7), protocol.CodeNoGrant},
		{"revoke foreign", "h2", revokeMsg(1), protocol.CodeUnauthorized},
		{"researcher breaks glass", "researcher", breakGlassMsg(h.pub("h1"), testLeaf(0), "why not"), protocol.CodeUnauthorized},
		{"break glass, no reason", "h2", breakGlassMsg(h.pub("h1"), testLeaf(0), ""), protocol.CodeInvalidMsg},
		{"break glass at a researcher", "h2", breakGlassMsg(h.pub("researcher"), testLeaf(0), "arrest"), protocol.CodeUnknownGrantee},
		{"hospital closes review", "h1", closeMsg(1, "fine"), protocol.CodeUnauthorized},
		{"close unknown review", "reviewer", closeMsg(9, "fine"), protocol.CodeNoGrant},
		{"foreign grant logged", "h2", logMsg(accessEvent(h.pub("researcher"), 1, 0, 2)), protocol.CodeGrantInactive},
		{"grant to another agent", "h1", logMsg(accessEvent(h.pub("reviewer"), 1, 0, 2)), protocol.CodeGrantInactive},
		{"event from the future", "h1", logMsg(accessEvent(h.pub("researcher"), 1, 0, 99)), protocol.CodeInvalidMsg},
		{"event with unknown grant", "h1", logMsg(accessEvent(h.pub("researcher"), 5, 0, 2)), protocol.CodeNoGrant},
		{"event with grant and review", "h1", logMsg(accessEvent(h.pub("researcher"), 1, 1, 2)), protocol.CodeInvalidMsg},
		{"review of another agent", "h1", logMsg(accessEvent(h.pub("h3"), 0, 1, 2)), protocol.CodeGrantInactive},
	}
	_, before := h.apps[0].LastCommit()
	var txs [][]byte
	for _, c := range cases {
		tx := h.tx(c.signer, c.msg)
		r := h.check(tx)
		wantCode(t, c.name+" (CheckTx)", r.Code, c.code, r.Log)
		txs = append(txs, tx)
	}
	resp := h.block(txs...)
	for i, c := range cases {
		wantCode(t, c.name+" (block)", resp.TxResults[i].Code, c.code, resp.TxResults[i].Log)
	}
	if _, after := h.apps[0].LastCommit(); !bytes.Equal(before, after) {
		t.Errorf("a block of refused records messages changed the app hash: %X → %X", before, after)
	}
}

// TestGrantRevokeBreakGlass: a read under a grant logs while the grant is
// in force and is refused for the block that revoked it and every later
// one; a break-glass read logs under its review, which a reviewer closes
// once; every logged event proves its place in the access log, and an
// altered event does not.
func TestGrantRevokeBreakGlass(t *testing.T) {
	h := newHarness(t, 2)
	h.block()                                                                                            // 1
	h.mustOK(h.block(h.tx("h1", anchorMsg(testLeaf(0))), h.tx("h1", grantMsg(h.pub("researcher"), 50)))) // 2: grant 1
	h.mustOK(h.block(h.tx("h1", logMsg(accessEvent(h.pub("researcher"), 1, 0, 2)))))                     // 3
	h.mustOK(h.block(h.tx("h1", revokeMsg(1))))                                                          // 4
	var g pb.Grant
	if err := g.Unmarshal(h.query(protocol.GrantPath(1))); err != nil || g.RevokedHeight != 4 {
		t.Fatalf("grant 1 after its revocation: %+v, %v", &g, err)
	}
	for _, at := range []uint64{4, 5} {
		r := h.block(h.tx("h1", logMsg(accessEvent(h.pub("researcher"), 1, 0, at))))
		wantCode(t, fmt.Sprintf("a read at height %d under grant 1 revoked at 4", at), r.TxResults[0].Code, protocol.CodeGrantInactive, r.TxResults[0].Log)
	}
	// A read checked before the revocation still logs (the server served it then).
	h.mustOK(h.block(h.tx("h1", logMsg(accessEvent(h.pub("researcher"), 1, 0, 3)))))
	r := h.block(h.tx("h1", revokeMsg(1)))
	wantCode(t, "revoking twice", r.TxResults[0].Code, protocol.CodeGrantInactive, r.TxResults[0].Log)

	// Break-glass: h2 reads h1's record in an emergency.
	h.mustOK(h.block(h.tx("h2", breakGlassMsg(h.pub("h1"), testLeaf(0), "unconscious patient, no consent on file"))))
	var rv pb.Review
	if err := rv.Unmarshal(h.query(protocol.ReviewPath(1))); err != nil || rv.ClosedHeight != 0 || rv.Reason == "" {
		t.Fatalf("review 1: %+v, %v", &rv, err)
	}
	h.mustOK(h.block(h.tx("h1", logMsg(accessEvent(h.pub("h2"), 0, 1, rv.OpenedHeight)))))
	h.mustOK(h.block(h.tx("reviewer", closeMsg(1, "justified: patient arrived unconscious"))))
	if err := rv.Unmarshal(h.query(protocol.ReviewPath(1))); err != nil || rv.ClosedHeight == 0 || !bytes.Equal(rv.ClosedBy, h.pub("reviewer")) {
		t.Fatalf("review 1 after closing: %+v, %v", &rv, err)
	}
	r = h.block(h.tx("admin", closeMsg(1, "again")))
	wantCode(t, "closing a closed review", r.TxResults[0].Code, protocol.CodeGrantInactive, r.TxResults[0].Log)

	// The access log: three events, each proved; an altered one is not.
	head := h.logHead(protocol.AccessLogPath(h.pub("h1")))
	if head.TreeSize != 3 {
		t.Fatalf("access log of %d events, want 3", head.TreeSize)
	}
	var list pb.AccessEventList
	if err := list.Unmarshal(h.queryRaw(protocol.EventsPath(h.pub("h1"), 0, 3), 0)); err != nil || len(list.Events) != 3 {
		t.Fatalf("events: %d, %v", len(list.Events), err)
	}
	for i := range list.Events {
		e := list.Events[i]
		p := h.hashes(protocol.InclusionPath(protocol.LogAccess, h.pub("h1"), uint64(i), head.TreeSize))
		if err := protocol.VerifyEvent(head, uint64(i), &e, p); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		for _, alter := range []func(*pb.AccessEvent){
			func(e *pb.AccessEvent) { e.Agent = h.pub("admin") },
			func(e *pb.AccessEvent) { e.Height++ },
			func(e *pb.AccessEvent) { e.Purpose = pb.PURPOSE_CARE },
		} {
			forged := e
			alter(&forged)
			if err := protocol.VerifyEvent(head, uint64(i), &forged, p); !errors.Is(err, protocol.ErrNotInLog) {
				t.Errorf("altered event %d verified: %v", i, err)
			}
		}
	}
	if list.Events[2].ReviewId != 1 || list.Events[2].Purpose != pb.PURPOSE_BREAK_GLASS {
		t.Errorf("the break-glass read is logged as %+v", list.Events[2])
	}
	h.queryRaw(protocol.EventsPath(h.pub("h1"), 2, 2), protocol.CodeBadQuery)
}

// TestDataAnchoredTask: a task with a data_scope takes a hospital's
// commitments only on an anchored dataset it granted the task's creator
// research access to: the first commitment names the anchor (a wrong
// leaf, index, grant or scope is refused), later ones need the grant in
// force, and revoking it ends the hospital's part.
func TestDataAnchoredTask(t *testing.T) {
	h := newHarness(t, 2)
	h.block()
	dataset := testLeaf(42)
	h.mustOK(h.block(
		h.tx("h1", anchorMsg(testLeaf(1), dataset)),     // dataset at index 1
		h.tx("h1", grantMsg(h.pub("researcher"), 1000)), // grant 1: dataset "heart"
		h.tx("h1", &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: h.pub("reviewer"), Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1000}}}),  // grant 2: another grantee
		h.tx("h1", &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: h.pub("researcher"), Kind: pb.SCOPE_DATASET, Scope: []byte("wdbc"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1000}}}), // grant 3: another dataset
	))
	spec := testSpec(h, "h1", "h2")
	spec.DataScope, spec.Rounds, spec.MinParticipants = "heart", 3, 1
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	up := testUpdate(1, 2, 3, 4)
	commit := func(round uint32, d *pb.DataAnchor) *pb.Msg {
		m := commitMsg(1, round, up, 10)
		m.GetCommitUpdate().Data = d
		return m
	}
	for _, c := range []struct {
		name string
		d    *pb.DataAnchor
		code uint32
	}{
		{"no anchor", nil, protocol.CodeInvalidMsg},
		{"wrong leaf", &pb.DataAnchor{Index: 1, Leaf: testLeaf(7), GrantId: 1}, protocol.CodeInvalidMsg},
		{"wrong index", &pb.DataAnchor{Index: 0, Leaf: dataset, GrantId: 1}, protocol.CodeInvalidMsg},
		{"beyond the log", &pb.DataAnchor{Index: 9, Leaf: dataset, GrantId: 1}, protocol.CodeInvalidMsg},
		{"grant to another", &pb.DataAnchor{Index: 1, Leaf: dataset, GrantId: 2}, protocol.CodeGrantInactive},
		{"grant of another dataset", &pb.DataAnchor{Index: 1, Leaf: dataset, GrantId: 3}, protocol.CodeGrantInactive},
		{"no such grant", &pb.DataAnchor{Index: 1, Leaf: dataset, GrantId: 9}, protocol.CodeNoGrant},
	} {
		r := h.check(h.tx("h1", commit(1, c.d)))
		wantCode(t, c.name, r.Code, c.code, r.Log)
	}
	anchor := &pb.DataAnchor{Index: 1, Leaf: dataset, GrantId: 1}
	h.mustOK(h.block(h.tx("h1", commit(1, anchor))))
	if got := h.round(1, 1).Submissions[0].Data; got == nil || got.Index != 1 || !bytes.Equal(got.Leaf, dataset) {
		t.Fatalf("round 1's submission keeps data anchor %+v", got)
	}
	for h.round(1, 1).Phase != pb.PHASE_REVEAL {
		h.block()
	}
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, up))))
	for h.round(1, 1).Phase != pb.PHASE_CLOSED {
		h.block()
	}
	// Round 2: no anchor needed again, a different one refused.
	r := h.check(h.tx("h1", commit(2, &pb.DataAnchor{Index: 0, Leaf: testLeaf(1), GrantId: 1})))
	wantCode(t, "a changed anchor", r.Code, protocol.CodeInvalidMsg, r.Log)
	h.mustOK(h.block(h.tx("h1", commit(2, nil))))
	for h.round(1, 2).Phase != pb.PHASE_REVEAL {
		h.block()
	}
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 2, up))))
	for h.round(1, 2).Phase != pb.PHASE_CLOSED {
		h.block()
	}
	// Consent revoked: no more commitments.
	h.mustOK(h.block(h.tx("h1", revokeMsg(1))))
	res := h.block(h.tx("h1", commit(3, nil)))
	wantCode(t, "a commitment after revocation", res.TxResults[0].Code, protocol.CodeGrantInactive, res.TxResults[0].Log)
	// A task without a data_scope takes no anchor.
	plain := testSpec(h, "h1")
	h.mustOK(h.block(h.tx("researcher", createTask(plain))))
	m := commitMsg(2, 1, up, 10)
	m.GetCommitUpdate().Data = anchor
	r = h.check(h.tx("h1", m))
	wantCode(t, "an anchor for a task without data_scope", r.Code, protocol.CodeInvalidMsg, r.Log)
}

func cancelMsg(task uint64, reason string) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_CancelTask{CancelTask: &pb.CancelTask{TaskId: task, Reason: reason}}}
}

// TestCancelTask: the creator (or an admin) cancels a running task: its
// open round closes without aggregating and drops the revealed update,
// no round opens after it, commitments are refused, and the task says
// who cancelled it and why; anyone else, a second cancellation and one
// without a reason are refused.
func TestCancelTask(t *testing.T) {
	h := newHarness(t, 2)
	h.block()
	spec := testSpec(h, "h1", "h2")
	spec.Rounds = 5
	h.mustOK(h.block(h.tx("researcher", createTask(spec)), h.tx("researcher", createTask(spec))))
	up := testUpdate(1, 2, 3, 4)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, up, 10)), h.tx("h2", commitMsg(1, 1, up, 10))))
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, up))))
	for _, c := range []struct {
		name, signer string
		msg          *pb.Msg
		code         uint32
	}{
		{"a hospital", "h1", cancelMsg(1, "mine now"), protocol.CodeUnauthorized},
		{"no reason", "researcher", cancelMsg(1, ""), protocol.CodeInvalidMsg},
		{"no such task", "researcher", cancelMsg(9, "x"), protocol.CodeUnknownTask},
	} {
		r := h.check(h.tx(c.signer, c.msg))
		wantCode(t, c.name, r.Code, c.code, r.Log)
	}
	h.mustOK(h.block(h.tx("researcher", cancelMsg(1, "wrong model size")), h.tx("admin", cancelMsg(2, "duplicate task"))))
	var task pb.Task
	if err := task.Unmarshal(h.query(protocol.TaskPath(1))); err != nil || task.Status != pb.TASK_STATUS_CANCELLED || !strings.Contains(task.CancelNote, "researcher") || !strings.Contains(task.CancelNote, "wrong model size") {
		t.Fatalf("task 1 after cancelling: %+v, %v", &task, err)
	}
	rd := h.round(1, 1)
	if rd.Phase != pb.PHASE_CLOSED || rd.Outcome != "cancelled" || rd.NumAggregated != 0 {
		t.Fatalf("round 1 after cancelling: %+v", rd)
	}
	if keys := h.apps[0].store.KeysWithPrefix("u/"); len(keys) != 0 {
		t.Errorf("the cancelled round's revealed update is still stored: %d keys", len(keys))
	}
	for range 10 {
		h.block()
	}
	if err := task.Unmarshal(h.query(protocol.TaskPath(1))); err != nil || task.CurrentRound != 1 {
		t.Errorf("a round opened after cancelling: %+v", &task)
	}
	r := h.check(h.tx("h1", commitMsg(1, 1, up, 10)))
	wantCode(t, "a commitment to a cancelled task", r.Code, protocol.CodeRoundClosed, r.Log)
	r = h.check(h.tx("researcher", cancelMsg(1, "again")))
	wantCode(t, "cancelling twice", r.Code, protocol.CodeRoundClosed, r.Log)
}

func reportMsg(task uint64, acc uint64) *pb.Msg {
	return &pb.Msg{Sum: &pb.Msg_ReportMetrics{ReportMetrics: &pb.ReportMetrics{TaskId: task, Metrics: pb.Metrics{NumExamples: 10, AccuracyPpm: acc}}}}
}

// TestReportMetrics: once a task is done, each invited hospital reports
// its metrics of the final model once; before, twice, uninvited, or with
// impossible metrics, it is refused.
func TestReportMetrics(t *testing.T) {
	h := newHarness(t, 2)
	h.block()
	spec := testSpec(h, "h1", "h2")
	spec.Rounds, spec.MinParticipants = 1, 1
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	r := h.check(h.tx("h1", reportMsg(1, 700000)))
	wantCode(t, "before the task is done", r.Code, protocol.CodeWrongPhase, r.Log)
	up := testUpdate(1, 2, 3, 4)
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, up, 10)), h.tx("h2", commitMsg(1, 1, up, 10))))
	h.mustOK(h.block(h.tx("h1", revealMsg(1, 1, up)), h.tx("h2", revealMsg(1, 1, up))))
	for h.round(1, 1).Phase != pb.PHASE_CLOSED {
		h.block()
	}
	h.mustOK(h.block(h.tx("h2", reportMsg(1, 800000)), h.tx("h1", reportMsg(1, 700000))))
	for _, c := range []struct {
		name, signer string
		msg          *pb.Msg
		code         uint32
	}{
		{"twice", "h1", reportMsg(1, 900000), protocol.CodeDuplicate},
		{"not invited", "h3", reportMsg(1, 900000), protocol.CodeNotInvited},
		{"over 100%", "h1", reportMsg(1, 1000001), protocol.CodeInvalidMsg},
		{"a researcher", "researcher", reportMsg(1, 1), protocol.CodeUnauthorized},
	} {
		r := h.check(h.tx(c.signer, c.msg))
		wantCode(t, c.name, r.Code, c.code, r.Log)
	}
	var task pb.Task
	if err := task.Unmarshal(h.query(protocol.TaskPath(1))); err != nil || len(task.FinalMetrics) != 2 ||
		bytes.Compare(task.FinalMetrics[0].Hospital, task.FinalMetrics[1].Hospital) >= 0 {
		t.Fatalf("final metrics: %+v, %v", task.FinalMetrics, err)
	}
}
