package fl

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
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
func (s *stubRPC) Block(context.Context, *int64) (*ctypes.ResultBlock, error) { return nil, s.err }

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

// chainRPC is a stubRPC that says it serves network.
type chainRPC struct {
	stubRPC
	network   string
	broadcast int
}

func (s *chainRPC) Status(ctx context.Context) (*ctypes.ResultStatus, error) {
	st, err := s.stubRPC.Status(ctx)
	if err == nil {
		st.NodeInfo.Network = s.network
		st.SyncInfo.LatestBlockHeight = 5
	}
	return st, err
}

func (s *chainRPC) BroadcastTxSync(context.Context, types.Tx) (*ctypes.ResultBroadcastTx, error) {
	s.broadcast++
	return &ctypes.ResultBroadcastTx{}, nil
}

// TestOtherChainRefused: a node that now serves another network (a port
// taken over by another chain's node) is never sent a tx; the client
// reports it unavailable, naming the chain.
func TestOtherChainRefused(t *testing.T) {
	node := &chainRPC{network: "ours"}
	c, err := NewClient(context.Background(), node, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.key = testKeyFL()
	c.ResendAfter = 0
	node.network = "theirs"
	_, err = c.Submit(context.Background(), &pb.Msg{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: 1}}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `serves chain "theirs"`) || node.broadcast != 0 {
		t.Fatalf("Submit to another chain's node: %v, %d broadcasts", err, node.broadcast)
	}
}

func testKeyFL() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

func (s *chainRPC) Block(context.Context, *int64) (*ctypes.ResultBlock, error) {
	return nil, errors.New("no blocks here")
}

func (s *chainRPC) Tx(context.Context, []byte, bool) (*ctypes.ResultTx, error) {
	return nil, errors.New("tx not found")
}
