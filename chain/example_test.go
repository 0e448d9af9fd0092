package chain_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/fedledger/fedledger/chain"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// A hospital may not launch a task: CheckTx says so with its own code.
func Example() {
	dir, _ := os.MkdirTemp("", "fedledger-example")
	defer os.RemoveAll(dir)
	app, err := chain.NewApp(chain.DefaultConfig(dir))
	if err != nil {
		panic(err)
	}
	defer app.Close()

	hospital := ed25519.NewKeyFromSeed(make([]byte, 32))
	genesis, _ := json.Marshal(chain.GenesisState{Participants: []chain.GenesisParticipant{
		{Name: "cleveland", PubKey: hospital.Public().(ed25519.PublicKey), Role: "hospital"},
	}})
	ctx := context.Background()
	if _, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: "demo", AppStateBytes: genesis}); err != nil {
		panic(err)
	}
	tx, _ := pb.SignTx(hospital, "demo", 1, &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{}}})
	res, _ := app.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx})
	fmt.Println(res.Code == protocol.CodeUnauthorized)
	fmt.Println(res.Log)
	// Output:
	// true
	// unauthorized: cleveland is a hospital; only a researcher may create a task
}
