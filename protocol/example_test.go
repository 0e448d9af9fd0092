package protocol_test

import (
	"errors"
	"fmt"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Query paths are built and parsed in one place; both sides use them.
func ExampleParseQuery() {
	path := protocol.RoundPath(7, 3)
	q, err := protocol.ParseQuery(path)
	fmt.Println(path, q.Path, q.Task, q.Round, err)
	_, err = protocol.ParseQuery("/round/7/x")
	fmt.Println(errors.Is(err, protocol.ErrBadQuery), protocol.CodeOf(err))
	// Output:
	// /round/7/3 /round 7 3 <nil>
	// true 102
}

// A client turns a refusal's code back into the sentinel the app used.
func ExampleErrorOf() {
	err := protocol.ErrorOf(protocol.CodeRoundClosed, "round 2 of task 1 is closed")
	fmt.Println(errors.Is(err, protocol.ErrRoundClosed))
	fmt.Println(err)
	// Output:
	// true
	// round closed (code 9): round 2 of task 1 is closed
}

// The initial model of a task that leaves it to the chain.
func ExampleDrawInitialModel() {
	logreg, _ := protocol.DrawInitialModel(pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 3}, 16)
	mlp, _ := protocol.DrawInitialModel(pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 3, HiddenDim: 2, InitSeed: 42}, 16)
	fmt.Println(logreg)
	fmt.Println(mlp)
	// Output:
	// [0 0 0 0]
	// [25821 31812 470 -15481 -5580 -1393 0 0 73456 41041 0]
}
