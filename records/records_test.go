package records

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records/recordsnet"
)

const patientJSON = `{"resourceType": "Bundle", "type": "collection", "entry": [
  {"resource": {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1961"}},
  {"resource": {"resourceType": "Observation", "id": "chol", "status": "final",
   "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]},
   "valueQuantity": {"value": 233, "unit": "mg/dL"}}}]}`

func refusedAs(t *testing.T, what string, err error, code string) {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || r.Code != code {
		t.Errorf("%s: %v, want refusal %s", what, err, code)
	}
}

func submit(t *testing.T, ctx context.Context, c *fl.Client, m *pb.Msg) *fl.Included {
	t.Helper()
	inc, err := c.Submit(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func grant(t *testing.T, ctx context.Context, c *fl.Client, g *pb.GrantAccess) uint64 {
	t.Helper()
	inc := submit(t, ctx, c, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: g}})
	var gr pb.Grant
	for id := uint64(1); ; id++ { // the grant is the newest one of this grantor
		if _, err := c.Query(ctx, protocol.GrantPath(id), &gr); err != nil {
			t.Fatalf("grant of block %d not found: %v", inc.Height, err)
		}
		if gr.GrantedHeight == uint64(inc.Height) && bytes.Equal(gr.Grantor, c.PubKey()) && bytes.Equal(gr.Scope, g.Scope) {
			return id
		}
	}
}

// TestRecordsEndToEnd runs the records story on a real CometBFT node:
// a hospital stores and anchors records; a researcher reads one under a
// grant, and what it gets verifies on chain; every kind of tampering (an
// anchored record, at rest or delivered; the access log) is detected;
// replayed, foreign, expired, revoked and out-of-scope reads are refused
// with their own codes and write nothing; a break-glass read is logged and
// reviewed; erasure leaves the proofs valid and the content gone.
func TestRecordsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	net, err := recordsnet.Start(ctx, recordsnet.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Stop()
	dial := func(name string) *fl.Client {
		c, err := net.Client(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	north, south, researcher, reviewer := dial("north"), dial("south"), dial("researcher"), dial("reviewer")
	dir := t.TempDir()
	st, err := Open(dir, north.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Store and anchor; a malformed record writes nothing.
	if _, err := st.Put("obs-1", []byte(patientJSON), PutOptions{Patient: "p1", Dataset: "heart", JSON: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put("obs-2", []byte(`{"resourceType": "Observation", "id": "bp"}`), PutOptions{Patient: "p2", Dataset: "heart", JSON: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put("scan-3", []byte("\x89PNG not really"), PutOptions{Patient: "p1"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{[]byte(`{"resourceType": "Patient",`), []byte(`[1, 2]`), nil, []byte(`{} {}`)} {
		if _, err := st.Put("bad", bad, PutOptions{JSON: true}); !errors.Is(err, ErrMalformed) {
			t.Errorf("malformed record %q: %v", bad, err)
		}
	}
	if _, err := st.Entry("bad", 0); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("a refused record left an entry: %v", err)
	}
	if n, err := Anchor(ctx, north, st); err != nil || n != 3 {
		t.Fatalf("anchored %d, %v; want 3", n, err)
	}
	for _, id := range []string{"obs-1", "obs-2", "scan-3"} {
		if _, err := VerifyEntry(ctx, north, st, id, 0); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	before, err := LogHead(ctx, north, north.PubKey())
	if err != nil {
		t.Fatal(err)
	}

	// A research grant over the heart dataset; the record server.
	srv, err := NewServer(st, north)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	heart := grant(t, ctx, north, &pb.GrantAccess{Grantee: researcher.PubKey(), Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40})
	ask := Ask{Holder: north.PubKey(), Record: "obs-1", Grant: heart, Purpose: "research"}
	d, err := Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), ask, researcher)
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := Canonical([]byte(patientJSON), true)
	if !bytes.Equal(d.Content, canon) {
		t.Fatalf("delivered %q", d.Content)
	}
	// Tampering with the delivered copy is detected against the chain.
	forged := *d
	forged.Content = bytes.Replace(d.Content, []byte("233"), []byte("133"), 1)
	if _, err := VerifyLeaf(ctx, researcher, forged.Holder, forged.Index, forged.Leaf()); !errors.Is(err, protocol.ErrNotInLog) {
		t.Errorf("an altered delivered record verified: %v", err)
	}

	// Refusals, each with its own code; none writes anything.
	req, priv, _ := NewRequest(recordsnet.Key("researcher"), ask)
	if _, err := Post(ctx, hs.Client(), hs.URL, req, priv); err != nil {
		t.Fatal(err)
	}
	_, err = Post(ctx, hs.Client(), hs.URL, req, priv)
	refusedAs(t, "replayed request", err, RefusedReplay)
	other := grant(t, ctx, south, &pb.GrantAccess{Grantee: researcher.PubKey(), Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40})
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "obs-1", Grant: other, Purpose: "research"}, researcher)
	refusedAs(t, "another hospital's grant", err, RefusedForeign)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("reviewer"), Ask{Holder: north.PubKey(), Record: "obs-1", Grant: heart, Purpose: "research"}, reviewer)
	refusedAs(t, "a grant to someone else", err, RefusedInactive)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "obs-1", Grant: heart, Purpose: "care"}, researcher)
	refusedAs(t, "another purpose", err, RefusedInactive)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "scan-3", Grant: heart, Purpose: "research"}, researcher)
	refusedAs(t, "a record outside the dataset", err, RefusedScope)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "nope", Grant: heart, Purpose: "research"}, researcher)
	refusedAs(t, "an unknown record", err, RefusedUnknown)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "obs-1", Grant: 999, Purpose: "research"}, researcher)
	refusedAs(t, "an unknown grant", err, RefusedNoGrant)
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: south.PubKey(), Record: "obs-1", Grant: heart, Purpose: "research"}, researcher)
	refusedAs(t, "a request for another hospital", err, RefusedWrongHolder)
	bad := *req
	bad.Nonce = append([]byte{1}, req.Nonce[1:]...)
	_, err = Post(ctx, hs.Client(), hs.URL, &bad, priv)
	refusedAs(t, "a request altered after signing", err, RefusedSignature)
	h, _ := north.LatestHeight(ctx)
	short := grant(t, ctx, north, &pb.GrantAccess{Grantee: researcher.PubKey(), Kind: pb.SCOPE_PATIENT, Scope: st.Pseudonym("p1"), Purpose: pb.PURPOSE_CARE, ExpiresHeight: uint64(h) + 20})
	if _, err := Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "scan-3", Grant: short, Purpose: "care"}, researcher); err != nil {
		t.Fatalf("a patient grant in force: %v", err)
	}
	if err := net.Nodes()[0].WaitHeight(ctx, h+21); err != nil {
		t.Fatal(err)
	}
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "scan-3", Grant: short, Purpose: "care"}, researcher)
	refusedAs(t, "an expired grant", err, RefusedInactive)
	if _, err := researcher.Submit(ctx, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: recordsnet.Pub("stranger"), Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40}}}); !errors.Is(err, protocol.ErrUnauthorized) {
		t.Errorf("a researcher granted access: %v", err)
	}
	if _, err := north.Submit(ctx, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: recordsnet.Pub("stranger"), Kind: pb.SCOPE_DATASET, Scope: []byte("heart"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40}}}); !errors.Is(err, protocol.ErrUnknownGrantee) {
		t.Errorf("a grant to an unknown grantee: %v", err)
	}
	stats := srv.Stats()
	if stats.Served != 3 || stats.Pending != 3 {
		t.Errorf("after the refusals: %+v; want 3 served, 3 pending", stats)
	}

	// Revocation holds from the revoking block on.
	submit(t, ctx, north, &pb.Msg{Sum: &pb.Msg_RevokeGrant{RevokeGrant: &pb.RevokeGrant{GrantId: heart}}})
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), ask, researcher)
	refusedAs(t, "a revoked grant", err, RefusedInactive)

	// Break-glass: south's emergency read of obs-2, logged and reviewed.
	ref := Ref(north.PubKey(), "obs-2")
	inc := submit(t, ctx, south, &pb.Msg{Sum: &pb.Msg_BreakGlass{BreakGlass: &pb.BreakGlass{Holder: north.PubKey(), Record: ref, Reason: "unconscious in ED, no consent on file"}}})
	review, _ := inc.Attr("break_glass", "review_id")
	if review != "1" {
		t.Fatalf("break-glass opened review %q", review)
	}
	if _, err := Read(ctx, hs.Client(), hs.URL, recordsnet.Key("south"), Ask{Holder: north.PubKey(), Record: "obs-2", Review: 1}, south); err != nil {
		t.Fatalf("break-glass read: %v", err)
	}
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("south"), Ask{Holder: north.PubKey(), Record: "obs-1", Review: 1}, south)
	refusedAs(t, "break-glass of another record", err, RefusedForeign)
	if n, err := srv.FlushAccess(ctx); err != nil || n != 4 {
		t.Fatalf("logged %d access events, %v; want 4", n, err)
	}
	events, ahead, err := VerifyAccessLog(ctx, reviewer, north.PubKey(), 0, 100)
	if err != nil || len(events) != 4 {
		t.Fatalf("access log: %d events, %v", len(events), err)
	}
	if e := events[3]; e.ReviewId != 1 || e.Purpose != pb.PURPOSE_BREAK_GLASS || !bytes.Equal(e.Agent, south.PubKey()) || !bytes.Equal(e.Record, ref) {
		t.Errorf("the break-glass read is logged as %+v", e)
	}
	// An access event altered after the fact does not verify.
	var p pb.Hashes
	if _, err := reviewer.Query(ctx, protocol.InclusionPath(protocol.LogAccess, north.PubKey(), 0, ahead.TreeSize), &p); err != nil {
		t.Fatal(err)
	}
	altered := events[0]
	altered.Agent = reviewer.PubKey()
	if err := protocol.VerifyEvent(ahead, 0, &altered, p.Hashes); !errors.Is(err, protocol.ErrNotInLog) {
		t.Errorf("an altered access event verified: %v", err)
	}
	submit(t, ctx, reviewer, &pb.Msg{Sum: &pb.Msg_CloseReview{CloseReview: &pb.CloseReview{ReviewId: 1, Note: "justified"}}})
	var rv pb.Review
	if _, err := reviewer.Query(ctx, protocol.ReviewPath(1), &rv); err != nil || rv.ClosedHeight == 0 {
		t.Errorf("review 1 after closing: %+v, %v", &rv, err)
	}

	// Tampering at rest: the sealed content no longer opens.
	e, _ := st.Entry("obs-2", 0)
	ck := versionKey("c/", "obs-2", e.Version)
	sealed, _ := st.get(ck)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	st.db.Set(ck, flipped, nil)
	if _, err := VerifyEntry(ctx, north, st, "obs-2", 0); err == nil {
		t.Error("a record altered at rest verified")
	}
	st.db.Set(ck, sealed, nil)

	// A rewritten history: today's log extends the one kept before.
	if _, err := VerifyExtends(ctx, reviewer, north.PubKey(), before); err != nil {
		t.Fatal(err)
	}
	rewritten := *before
	rewritten.Root = bytes.Repeat([]byte{7}, 32)
	if _, err := VerifyExtends(ctx, reviewer, north.PubKey(), &rewritten); !errors.Is(err, protocol.ErrNotInLog) {
		t.Errorf("a log whose kept head was rewritten verified: %v", err)
	}

	// Erasure: the proofs still verify, the content is gone.
	care := grant(t, ctx, north, &pb.GrantAccess{Grantee: researcher.PubKey(), Kind: pb.SCOPE_PATIENT, Scope: st.Pseudonym("p1"), Purpose: pb.PURPOSE_CARE, ExpiresHeight: 1 << 40})
	keyBytes, err := os.ReadFile(st.keyFile("obs-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Erase("obs-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.Content("obs-1", 0); !errors.Is(err, ErrErased) {
		t.Errorf("erased content read back: %v", err)
	}
	if _, err := VerifyEntry(ctx, north, st, "obs-1", 0); err != nil {
		t.Errorf("the erased record's leaf no longer proves: %v", err)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		bz, _ := os.ReadFile(path)
		if bytes.Contains(bz, keyBytes) {
			t.Errorf("the erased record's sealed key is still in %s", path)
		}
		if bytes.Contains(bz, []byte(`"unit":"mg/dL"`)) || bytes.Contains(bz, []byte(`"unit": "mg/dL"`)) {
			t.Errorf("record content in the clear in %s", path)
		}
		return nil
	})
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("south"), Ask{Holder: north.PubKey(), Record: "obs-2", Review: 1}, south)
	if err != nil {
		t.Errorf("an unerased record after another's erasure: %v", err)
	}
	_, err = Read(ctx, hs.Client(), hs.URL, recordsnet.Key("researcher"), Ask{Holder: north.PubKey(), Record: "obs-1", Grant: care, Purpose: "care"}, researcher)
	refusedAs(t, "an erased record under a grant in force", err, RefusedErased)
}
