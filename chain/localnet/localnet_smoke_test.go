package localnet

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/fedledger/fedledger/chain"
)

func TestStartSmoke(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	st, _ := json.Marshal(chain.GenesisState{Participants: []chain.GenesisParticipant{{Name: "admin", PubKey: pub, Role: "admin"}}})
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.AppState = st
	t0 := time.Now()
	nw, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Stop()
	t.Logf("ready after %v", time.Since(t0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nw.Nodes()[0].WaitHeight(ctx, 10); err != nil {
		t.Fatal(err)
	}
	t.Logf("height 10 after %v", time.Since(t0))
}
