package fl

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fedledger/fedledger/protocol"
)

func TestCheckTxRefusal(t *testing.T) {
	rpcErr := fmt.Errorf("error in json rpc client: RPC error -32603 - Internal error: broadcast error on transaction validation: tx B52F is invalid: code=9, data=, log='round closed: round 2 of task 1 is closed; the open round is 5', codespace='fedledger'")
	err := checkTxRefusal(rpcErr)
	if !errors.Is(err, protocol.ErrRoundClosed) || err == nil {
		t.Fatalf("got %v, want ErrRoundClosed", err)
	}
	if checkTxRefusal(fmt.Errorf("connection refused")) != nil {
		t.Fatal("a network error parsed as a refusal")
	}
}

func TestPendingStores(t *testing.T) {
	for name, st := range map[string]PendingStore{"mem": NewMemPending(), "dir": DirPending(t.TempDir())} {
		if b, err := st.Get(1, 2); b != nil || err != nil {
			t.Fatalf("%s: empty store gave %v %v", name, b, err)
		}
		if err := st.Put(1, 2, []byte("upd")); err != nil {
			t.Fatal(err)
		}
		if b, _ := st.Get(1, 2); string(b) != "upd" {
			t.Fatalf("%s: got %q", name, b)
		}
		if b, _ := st.Get(1, 3); b != nil {
			t.Fatalf("%s: other round gave %q", name, b)
		}
		if err := st.Delete(1, 2); err != nil {
			t.Fatal(err)
		}
		if b, _ := st.Get(1, 2); b != nil {
			t.Fatalf("%s: deleted update still there", name)
		}
		if err := st.Delete(1, 2); err != nil {
			t.Fatalf("%s: second delete: %v", name, err)
		}
	}
}
