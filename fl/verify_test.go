package fl_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/fltest"
	"github.com/fedledger/fedledger/protocol"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("fl verify test " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// startNet starts a one-validator network with two hospitals and returns
// it with its genesis document.
func startNet(t *testing.T) (*localnet.Network, *types.GenesisDoc) {
	t.Helper()
	var g chain.GenesisState
	for _, n := range []string{"h1", "h2"} {
		g.Participants = append(g.Participants, chain.GenesisParticipant{Name: n, PubKey: testKey(n).Public().(ed25519.PublicKey), Role: "hospital"})
	}
	state, _ := json.Marshal(g)
	cfg := localnet.DefaultConfig()
	cfg.Validators, cfg.Dir, cfg.AppState = 1, t.TempDir(), state
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nw, err := localnet.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Stop() })
	// A node reports block 1 once stored, before its app commits it with
	// the genesis participants: wait for block 2, so the first query finds
	// them (a race fl.NewClient still has at a chain's birth; see the
	// closing note of session 5).
	if err := nw.Nodes()[0].WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	doc, err := types.GenesisDocFromFile(filepath.Join(nw.Nodes()[0].Home(), "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	return nw, doc
}

// verified dials addr ("a" or "a,b") with a light client trusting genesis.
func verified(t *testing.T, ctx context.Context, addr string, doc *types.GenesisDoc) *fl.Client {
	t.Helper()
	c, err := fl.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes := strings.Split(addr, ",")
	v, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Genesis: doc}, c.LatestHeight, nodes[0], nodes[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	c.Verifier = v
	return c
}

// TestLyingNodeRefused puts a lying proxy in front of a real node: a
// client that verifies refuses every kind of lie and names the proxy; one
// that does not takes the forged record; with a second, honest node given,
// the verifying client gets the true answer from it.
func TestLyingNodeRefused(t *testing.T) {
	nw, doc := startNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	real := nw.Nodes()[0].RPCAddress()
	h1 := testKey("h1").Public().(ed25519.PublicKey)

	honest := verified(t, ctx, real, doc)
	want, err := honest.Participant(ctx, h1)
	if err != nil || want.Name != "h1" {
		t.Fatalf("honest node, verified: %+v %v", want, err)
	}
	if _, err := honest.Query(ctx, protocol.PathParams, new(jsonValue)); err != nil {
		t.Fatalf("honest node, verified /params: %v", err)
	}

	proxy := fltest.NewLyingProxy(real, fltest.Honest)
	defer proxy.Close()
	proxy.Path = protocol.ParticipantPath(testKey("h2").Public().(ed25519.PublicKey))
	for _, lie := range []fltest.Lie{fltest.ForgeValue, fltest.DropProof, fltest.OtherQuery, fltest.ForgeAppHash} {
		proxy.Set(fltest.Honest)
		c := verified(t, ctx, proxy.URL, doc) // the trust root is checked honestly
		proxy.Set(lie)
		p, err := c.Participant(ctx, h1)
		t.Logf("lie %d: %v", lie, err)
		if !errors.Is(err, fl.ErrLyingNode) || !strings.Contains(err.Error(), proxy.URL) {
			t.Errorf("lie %d: verified client got %+v, error %v; want ErrLyingNode naming %s", lie, p, err, proxy.URL)
		}
	}
	if proxy.Lies.Load() == 0 {
		t.Fatal("the proxy told no lie")
	}

	// Unverified, the forged record is taken: the attack is real.
	proxy.Set(fltest.ForgeValue)
	plain, err := fl.Dial(ctx, proxy.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := plain.Participant(ctx, h1); err == nil && bytes.Equal(p.PubKey, want.PubKey) && p.Name == want.Name && p.Nonce == want.Nonce && p.Role == want.Role {
		t.Fatalf("the forged answer decoded to the true record %+v", p)
	}

	// A lying node first, an honest one second: the lie is skipped.
	both := verified(t, ctx, proxy.URL+","+real, doc)
	got, err := both.Participant(ctx, h1)
	if err != nil || got.Name != "h1" {
		t.Fatalf("lying then honest node: %+v %v", got, err)
	}
}

// jsonValue takes any answer's bytes.
type jsonValue []byte

func (j *jsonValue) Unmarshal(b []byte) error { *j = append((*j)[:0], b...); return nil }

// TestTrustRootRefused: a genesis from another chain, or with other
// validators, is refused before any answer is read.
func TestTrustRootRefused(t *testing.T) {
	nw, doc := startNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	real := nw.Nodes()[0].RPCAddress()
	c, err := fl.Dial(ctx, real, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := *doc
	other.ChainID = "another-chain"
	if _, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Genesis: &other}, c.LatestHeight, real); !errors.Is(err, fl.ErrLyingNode) {
		t.Errorf("genesis of another chain: %v", err)
	}
	vals := *doc
	vals.Validators = append([]types.GenesisValidator(nil), doc.Validators...)
	vals.Validators[0].Power++
	if _, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Genesis: &vals}, c.LatestHeight, real); !errors.Is(err, fl.ErrLyingNode) {
		t.Errorf("genesis with other validator powers: %v", err)
	}
	if _, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Height: 1, Hash: make([]byte, 32)}, c.LatestHeight, real); err == nil {
		t.Error("a trust hash that is not block 1's was accepted")
	}
	if _, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{}, c.LatestHeight, real); err == nil {
		t.Error("an empty trust root was accepted")
	}
}

// TestVerifierConcurrent: queries verified at once, as a trainer serving
// several tasks makes them, all succeed (the light client is not safe for
// concurrent use; one of two verifications of the same new header used to
// fail as a lie).
func TestVerifierConcurrent(t *testing.T) {
	nw, doc := startNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := nw.Nodes()[0]
	c := verified(t, ctx, node.RPCAddress(), doc)
	h1 := testKey("h1").Public().(ed25519.PublicKey)
	for round := 0; round < 5; round++ {
		h, _ := node.App().LastCommit()
		if err := node.WaitHeight(ctx, h+2); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := c.Participant(ctx, h1)
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent verified query: %v", round, err)
			}
		}
	}
}
