package fl

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fedledger/fedledger/chain"
)

func TestCheckTxRefusal(t *testing.T) {
	rpcErr := fmt.Errorf("error in json rpc client: RPC error -32603 - Internal error: broadcast error on transaction validation: tx B52F is invalid: code=9, data=, log='round closed: round 2 of task 1 is closed; the open round is 5', codespace='fedledger'")
	err := checkTxRefusal(rpcErr)
	if !errors.Is(err, chain.ErrRoundClosed) || err == nil {
		t.Fatalf("got %v, want ErrRoundClosed", err)
	}
	if checkTxRefusal(fmt.Errorf("connection refused")) != nil {
		t.Fatal("a network error parsed as a refusal")
	}
}
