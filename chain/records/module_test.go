package records_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/protocol"
)

// TestRegistered: the app routes the records module's genesis section and
// query path to it: a genesis with a records section starts, a query of a
// hospital's log is answered by the module (nothing there yet), a bad key
// is refused with the module's code, and a non-empty section is refused.
func TestRegistered(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	gen := chain.GenesisState{
		Participants: []chain.GenesisParticipant{{Name: "admin", PubKey: pub, Role: "admin"}},
		Modules:      map[string]json.RawMessage{"records": json.RawMessage(`{"logs": []}`)},
	}
	st, err := json.Marshal(gen)
	if err != nil {
		t.Fatal(err)
	}
	app, err := chain.NewApp(chain.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()
	if _, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: "c", AppStateBytes: st}); err != nil {
		t.Fatalf("genesis with a records section: %v", err)
	}
	if _, err := app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]uint32{
		protocol.RecordLogPath(pub): protocol.CodeNotFound,
		protocol.AccessLogPath(pub): protocol.CodeNotFound,
		protocol.GrantPath(1):       protocol.CodeNotFound,
		"/records/log/zz":           protocol.CodeBadQuery,
		"/records":                  protocol.CodeBadQuery,
		"/records/events/" + hex.EncodeToString(pub) + "/0/1": protocol.CodeBadQuery,
		"/nothing/here": protocol.CodeUnknownQuery,
	} {
		resp, err := app.Query(ctx, &abci.RequestQuery{Path: path})
		if err != nil || resp.Code != want {
			t.Errorf("query %s: code %d (%s), %v; want %d", path, resp.Code, resp.Log, err, want)
		}
	}
	gen.Modules["records"] = json.RawMessage(`{"logs": [{}]}`)
	st, _ = json.Marshal(gen)
	app2, err := chain.NewApp(chain.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app2.Close()
	if _, err := app2.InitChain(ctx, &abci.RequestInitChain{ChainId: "c", AppStateBytes: st}); err == nil {
		t.Error("a records section with logs was accepted")
	}
}
