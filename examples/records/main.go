// Command records is the records story in one command: a 4-validator
// in-process network; Cleveland stores its heart disease rows as FHIR
// bundles (encrypted) and anchors their keyed hashes; a researcher reads
// one under a research grant and checks it on chain; a replay, a tampered
// copy and a revoked grant are refused; Hungary reads a record in an
// emergency (break-glass) and a reviewer closes the review; the access
// log is listed, every event verified; an erased record keeps its proof
// and loses its content.
//
//	go run ./examples/records [--data ../shared/datasets]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records"
	"github.com/fedledger/fedledger/records/recordsnet"
)

func main() {
	data := flag.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+" or ../shared/datasets)")
	flag.Parse()
	if err := run(*data); err != nil {
		log.Fatal(err)
	}
}

func step(format string, a ...any) { fmt.Printf("\n== "+format+"\n", a...) }

func run(data string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := datasets.FindDir(data)
	if dir == "" {
		return errors.New("no heart disease data found: pass --data (the folder holding heart-disease/) or set " + datasets.EnvData)
	}
	rows, err := datasets.LoadHeartRows(dir, "cleveland")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fedledger-records-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	step("a 4-validator CometBFT network in this process")
	people := map[string]string{"admin": "admin", "researcher": "researcher", "reviewer": "reviewer", "cleveland": "hospital", "hungary": "hospital"}
	nw, err := recordsnet.Start(ctx, recordsnet.Config{Dir: tmp + "/chain", Validators: 4, People: people})
	if err != nil {
		return err
	}
	defer nw.Stop()
	clients := map[string]*fl.Client{}
	for name := range people {
		if clients[name], err = nw.Client(ctx, name); err != nil {
			return err
		}
	}
	cleveland, researcher, hungary, reviewer := clients["cleveland"], clients["researcher"], clients["hungary"], clients["reviewer"]
	fmt.Printf("chain %s, nodes %s\n", nw.ChainID(), nw.Addrs())

	step("Cleveland stores its %d rows as FHIR bundles, encrypted, and anchors them", rows.Len())
	st, err := records.Open(tmp+"/cleveland-records", cleveland.PubKey())
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range rows.X {
		bundle, patient, err := records.HeartBundle("cleveland", i, rows.X[i], rows.Y[i])
		if err != nil {
			return err
		}
		if _, err := st.Put(fmt.Sprintf("cle-%04d", i), bundle, records.PutOptions{Patient: patient, Dataset: "heart-cleveland", JSON: true}); err != nil {
			return err
		}
	}
	n, err := records.Anchor(ctx, cleveland, st)
	if err != nil {
		return err
	}
	before, err := records.LogHead(ctx, reviewer, cleveland.PubKey())
	if err != nil {
		return err
	}
	fmt.Printf("anchored %d leaves (HMAC-SHA256, never the records): log size %d, root %x…\n", n, before.TreeSize, before.Root[:8])
	e, err := records.VerifyEntry(ctx, cleveland, st, "cle-0007", 0)
	if err != nil {
		return err
	}
	fmt.Printf("cle-0007 verified: leaf %d, anchored at height %d\n", e.Index, e.Height)

	step("Cleveland grants the researcher research access to dataset heart-cleveland; its record server starts")
	inc, err := cleveland.Submit(ctx, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{
		Grantee: researcher.PubKey(), Kind: pb.SCOPE_DATASET, Scope: []byte("heart-cleveland"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40}}})
	if err != nil {
		return err
	}
	gid, _ := inc.Attr("grant", "grant_id")
	var grant uint64
	fmt.Sscan(gid, &grant)
	srv, err := records.NewServer(st, cleveland)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	fmt.Printf("grant %d at height %d; record server on %s\n", grant, inc.Height, url)

	step("the researcher reads cle-0007: sealed to a fresh key, checked against Cleveland's log")
	ask := records.Ask{Holder: cleveland.PubKey(), Record: "cle-0007", Grant: grant, Purpose: "research"}
	d, err := records.Read(ctx, http.DefaultClient, url, recordsnet.Key("researcher"), ask, researcher)
	if err != nil {
		return err
	}
	fmt.Printf("got %d bytes of FHIR; leaf %d of the log: verified\n", len(d.Content), d.Index)
	forged := *d
	forged.Content = bytes.Replace(d.Content, []byte(`"dx"`), []byte(`"dX"`), 1)
	_, err = records.VerifyLeaf(ctx, researcher, forged.Holder, forged.Index, forged.Leaf())
	fmt.Printf("a copy altered by one byte: %v\n", err)

	req, priv, err := records.NewRequest(recordsnet.Key("researcher"), ask)
	if err != nil {
		return err
	}
	if _, err := records.Post(ctx, http.DefaultClient, url, req, priv); err != nil {
		return err
	}
	_, err = records.Post(ctx, http.DefaultClient, url, req, priv)
	fmt.Printf("the same signed request again: %v\n", err)

	step("Cleveland revokes the grant")
	inc, err = cleveland.Submit(ctx, &pb.Msg{Sum: &pb.Msg_RevokeGrant{RevokeGrant: &pb.RevokeGrant{GrantId: grant}}})
	if err != nil {
		return err
	}
	_, err = records.Read(ctx, http.DefaultClient, url, recordsnet.Key("researcher"), ask, researcher)
	fmt.Printf("revoked at height %d; the researcher asks again: %v\n", inc.Height, err)

	step("Hungary's emergency department breaks the glass on cle-0042")
	inc, err = hungary.Submit(ctx, &pb.Msg{Sum: &pb.Msg_BreakGlass{BreakGlass: &pb.BreakGlass{
		Holder: cleveland.PubKey(), Record: records.Ref(cleveland.PubKey(), "cle-0042"), Reason: "transferred unconscious, no consent on file"}}})
	if err != nil {
		return err
	}
	rid, _ := inc.Attr("break_glass", "review_id")
	var review uint64
	fmt.Sscan(rid, &review)
	if _, err := records.Read(ctx, http.DefaultClient, url, recordsnet.Key("hungary"), records.Ask{Holder: cleveland.PubKey(), Record: "cle-0042", Review: review}, hungary); err != nil {
		return err
	}
	fmt.Printf("review %d opened at height %d; the record was served and verified\n", review, inc.Height)
	if _, err := srv.FlushAccess(ctx); err != nil {
		return err
	}
	if _, err := reviewer.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CloseReview{CloseReview: &pb.CloseReview{ReviewId: review, Note: "justified: emergency transfer"}}}); err != nil {
		return err
	}
	var rv pb.Review
	if _, err := reviewer.Query(ctx, protocol.ReviewPath(review), &rv); err != nil {
		return err
	}
	fmt.Printf("the reviewer closed review %d at height %d: %q\n", rv.Id, rv.ClosedHeight, rv.Note)

	step("the access log, each event verified against its proved root")
	events, ahead, err := records.VerifyAccessLog(ctx, reviewer, cleveland.PubKey(), 0, 100)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for name, c := range clients {
		names[string(c.PubKey())] = name
	}
	for i, ev := range events {
		under := fmt.Sprintf("grant %d", ev.GrantId)
		if ev.ReviewId != 0 {
			under = fmt.Sprintf("break-glass review %d", ev.ReviewId)
		}
		fmt.Printf("%d. height %d: %s read record %x… for %s under %s\n", i, ev.Height, names[string(ev.Agent)], ev.Record[:6], protocol.PurposeName(ev.Purpose), under)
	}
	fmt.Printf("access log: %d events, root %x…\n", ahead.TreeSize, ahead.Root[:8])

	step("erasure of cle-0007: key and content destroyed, proof kept")
	if err := st.Erase("cle-0007"); err != nil {
		return err
	}
	if _, err := records.VerifyEntry(ctx, cleveland, st, "cle-0007", 0); err != nil {
		return err
	}
	_, _, _, err = st.Content("cle-0007", 0)
	fmt.Printf("its leaf still proves; its content: %v\n", err)
	if _, err := records.VerifyExtends(ctx, reviewer, cleveland.PubKey(), before); err != nil {
		return err
	}
	fmt.Printf("Cleveland's log today extends the head kept at the start (size %d): no leaf changed\n", before.TreeSize)
	fmt.Printf("\nrecord server: %+v\n", srv.Stats())
	return nil
}
