package chain

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// TestEveryCheckTxCode sends, for every code a transaction can be refused
// with, one transaction that earns it, and checks that CheckTx and
// FinalizeBlock both give exactly that code, with the state unchanged; the
// table must name every such code of protocol.
func TestEveryCheckTxCode(t *testing.T) {
	h := newHarness(t, 2)
	// Task 1 (h1, h2) stays in its commit phase; task 2 (h1..h4) is in
	// its reveal phase, with h1 committed to u1, h2 to a wrong-shaped
	// update, h4 to a copy of h1's commitment, and h3 not committed.
	spec1 := testSpec(h, "h1", "h2")
	spec1.CommitWindow = 1000
	spec2 := testSpec(h, "h1", "h2", "h3", "h4")
	spec2.CommitWindow, spec2.RevealWindow = 2, 1000
	h.mustOK(h.block(h.tx("researcher", createTask(spec1)), h.tx("researcher", createTask(spec2))))
	u1, short := testUpdate(1, 2, 3, 4), testUpdate(1, 2, 3)
	copied := bind("h1", testChain, commitMsg(2, 1, u1, 10)).GetCommitUpdate().UpdateHash
	copyMsg := &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{TaskId: 2, Round: 1, UpdateHash: copied, NumSamples: 10}}}
	h.mustOK(h.block(h.tx("h1", commitMsg(1, 1, u1, 10)), h.tx("h1", commitMsg(2, 1, u1, 10)), h.tx("h2", commitMsg(2, 1, short, 10)), h.raw("h4", copyMsg)))
	for h.round(2, 1).Phase != pb.PHASE_REVEAL {
		h.block()
	}
	if h.round(1, 1).Phase != pb.PHASE_COMMIT {
		t.Fatal("task 1 left its commit phase")
	}

	stranger := testKey("stranger")
	signed := func(key ed25519.PrivateKey, chain string, nonce uint64, msg *pb.Msg) []byte {
		bz, err := pb.SignTx(key, chain, nonce, msg)
		if err != nil {
			t.Fatal(err)
		}
		return bz
	}
	tampered := h.tx("h2", commitMsg(1, 1, u1, 10))
	tampered[len(tampered)-1] ^= 1
	h.nonces["h2"]-- // the tampered tx never counts
	bigSpec := testSpec(h, "h1")
	bigSpec.Model = pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 4000, HiddenDim: 4000, InitSeed: 1}
	bigSpec.InitialModel = pb.Vector{}
	badSpec := testSpec(h, "h1")
	badSpec.Rounds = 0
	steal := &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: 2, Round: 1, Update: u1, Salt: testSalt("h1")}}}
	cases := []struct {
		name string
		code uint32
		tx   func() []byte
	}{
		{"not a transaction", protocol.CodeDecode, func() []byte { return []byte{0xff, 0x01} }},
		{"signed for another chain", protocol.CodeWrongChain, func() []byte { return signed(testKey("h2"), "other-chain", 1, commitMsg(1, 1, u1, 10)) }},
		{"signature altered", protocol.CodeBadSignature, func() []byte { return tampered }},
		{"signer not a participant", protocol.CodeUnknownSigner, func() []byte { return signed(stranger, testChain, 1, commitMsg(1, 1, u1, 10)) }},
		{"nonce replayed", protocol.CodeBadNonce, func() []byte { return signed(testKey("h1"), testChain, h.nonces["h1"], commitMsg(1, 1, u1, 10)) }},
		{"hospital creates a task", protocol.CodeUnauthorized, func() []byte { return h.tx("h2", createTask(testSpec(h, "h1"))) }},
		{"task of zero rounds", protocol.CodeInvalidMsg, func() []byte { return h.tx("researcher", createTask(badSpec)) }},
		{"commit to no such task", protocol.CodeUnknownTask, func() []byte { return h.tx("h2", commitMsg(99, 1, u1, 10)) }},
		{"commit to a past round", protocol.CodeRoundClosed, func() []byte { return h.tx("h3", commitMsg(2, 0, u1, 10)) }},
		{"reveal in the commit phase", protocol.CodeWrongPhase, func() []byte { return h.tx("h1", revealMsg(1, 1, u1)) }},
		{"hospital not invited", protocol.CodeNotInvited, func() []byte { return h.tx("h5", commitMsg(1, 1, u1, 10)) }},
		{"second commit", protocol.CodeDuplicate, func() []byte { return h.tx("h1", commitMsg(1, 1, u1, 10)) }},
		{"reveal without commit", protocol.CodeNoCommitment, func() []byte { return h.tx("h3", revealMsg(2, 1, u1)) }},
		{"reveal of another update", protocol.CodeHashMismatch, func() []byte { return h.tx("h1", revealMsg(2, 1, testUpdate(4, 3, 2, 1))) }},
		{"update of the wrong length", protocol.CodeBadShape, func() []byte { return h.tx("h2", revealMsg(2, 1, short)) }},
		{"16M-parameter model", protocol.CodeOverLimit, func() []byte { return h.tx("researcher", createTask(bigSpec)) }},
		{"reveal of a copied commitment", protocol.CodeCopied, func() []byte { return h.raw("h4", steal) }},
	}
	covered := map[uint32]bool{}
	before := h.block().AppHash
	for _, c := range cases {
		tx := c.tx()
		if res := h.check(tx); res.Code != c.code {
			t.Errorf("%s: CheckTx code %d %q, want %d", c.name, res.Code, res.Log, c.code)
		}
		res := h.block(tx)
		if got := res.TxResults[0].Code; got != c.code {
			t.Errorf("%s: FinalizeBlock code %d %q, want %d", c.name, got, res.TxResults[0].Log, c.code)
		}
		if !bytes.Equal(res.AppHash, before) {
			t.Errorf("%s: the refused tx changed the state", c.name)
		}
		before = res.AppHash
		covered[c.code] = true
	}
	for code := protocol.CodeDecode; code <= protocol.CodeCopied; code++ {
		if !covered[code] {
			t.Errorf("code %d has no case", code)
		}
	}
}

// TestSigCache: a tx that verified once is accepted from the cache, and
// the same tx with one bit of its signature or body changed is still
// refused, before and after the original was cached; the cache evicts its
// oldest entry when full.
func TestSigCache(t *testing.T) {
	h := newHarness(t, 1)
	good := h.tx("h1", commitMsg(1, 1, testUpdate(1, 2, 3, 4), 10))
	tx, _, err := pb.DecodeTx(good)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if err := verifySignature(good, tx); err != nil {
			t.Fatalf("pass %d: a good tx refused: %v", round, err)
		}
		for _, i := range []int{len(good) - 1, len(good) / 2} {
			bad := append([]byte(nil), good...)
			bad[i] ^= 1
			btx, _, err := pb.DecodeTx(bad)
			if err != nil {
				continue // the flip broke the encoding: refused anyway
			}
			if verifySignature(bad, btx) == nil {
				t.Fatalf("pass %d: a tx with byte %d flipped verified", round, i)
			}
		}
	}
	c := &sigCache{seen: map[[32]byte]struct{}{}}
	for i := 0; i < sigCacheSize+1; i++ {
		c.add([32]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	if c.has([32]byte{0, 0, 0}) || !c.has([32]byte{1, 0, 0}) || len(c.seen) != sigCacheSize {
		t.Fatalf("eviction: oldest kept %v, next kept %v, %d entries", c.has([32]byte{}), c.has([32]byte{1}), len(c.seen))
	}
}
