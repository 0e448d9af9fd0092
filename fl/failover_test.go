package fl

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
)

// stubRPC answers Status with its name, or fails with err.
type stubRPC struct {
	name  string
	err   error
	calls int
}

func (s *stubRPC) Status(context.Context) (*ctypes.ResultStatus, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	st := &ctypes.ResultStatus{}
	st.NodeInfo.Moniker = s.name
	return st, nil
}
func (s *stubRPC) ABCIQueryWithOptions(context.Context, string, bytes.HexBytes, rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error) {
	return nil, s.err
}
func (s *stubRPC) BroadcastTxSync(context.Context, types.Tx) (*ctypes.ResultBroadcastTx, error) {
	return nil, s.err
}
func (s *stubRPC) Tx(context.Context, []byte, bool) (*ctypes.ResultTx, error) { return nil, s.err }

// TestFailover: a node that cannot be reached is passed over and the one
// that answers stays current; an answer that is an error (the node was
// reached) is returned as it is, without asking another node.
func TestFailover(t *testing.T) {
	down := &stubRPC{name: "a", err: &url.Error{Op: "Post", URL: "http://a", Err: errors.New("connection refused")}}
	up := &stubRPC{name: "b"}
	var switched []int
	f := NewFailover(down, up)
	f.OnSwitch = func(i int) { switched = append(switched, i) }
	for range 2 {
		st, err := f.Status(context.Background())
		if err != nil || st.NodeInfo.Moniker != "b" {
			t.Fatalf("status: %v %v", st, err)
		}
	}
	if down.calls != 1 || up.calls != 2 || len(switched) != 1 || switched[0] != 1 {
		t.Errorf("calls a=%d b=%d, switches %v; want a once, b twice, one switch to 1", down.calls, up.calls, switched)
	}
	answer := &stubRPC{name: "c", err: errors.New("RPC error -32603: tx not found")}
	other := &stubRPC{name: "d"}
	if _, err := NewFailover(answer, other).Status(context.Background()); err == nil || other.calls != 0 {
		t.Errorf("an answer from the node was passed over: err %v, other node called %d times", err, other.calls)
	}
}
