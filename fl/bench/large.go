package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// LargeConfig configures `fedledger bench large`: a task with a model of
// about Params parameters (an MLP whose hidden layer is sized to get
// there) run through an in-process network once per encoding.
type LargeConfig struct {
	Source     datasets.Source
	Params     int
	Rounds     int
	Validators int
	Encodings  []string
	TopkPpm    uint32
	Seed       uint64
	Out        io.Writer // progress lines and each run's round table
}

// DefaultLargeConfig is WDBC over 10 hospitals (IID), a 10^6-parameter
// MLP, 3 rounds, 4 validators, int32, int8 and top-1% int8.
func DefaultLargeConfig() LargeConfig {
	return LargeConfig{
		Source: datasets.Source{Dataset: "wdbc", Hospitals: 10, Partition: "iid"},
		Params: 1_000_000, Rounds: 3, Validators: 4,
		Encodings: []string{"int32", "int8", "topk"}, TopkPpm: 10_000, Seed: 42,
	}
}

// LargeResult is one encoding's run.
type LargeResult struct {
	Encoding string `json:"encoding"`
	Params   int    `json:"params"`
	Rounds   int    `json:"rounds"`
	// UpdateBytes is one hospital's encoded update (the first reported in round 1).
	UpdateBytes int `json:"update_bytes"`
	// SecondsPerRound and ChainBytesPerRound are means over the rounds;
	// LatencyMs is the mean time from the last reveal's block to the next
	// model being queryable.
	SecondsPerRound    float64 `json:"seconds_per_round"`
	ChainBytesPerRound float64 `json:"chain_bytes_per_round"`
	LatencyMs          float64 `json:"latency_ms"`
	Accuracy           float64 `json:"accuracy"`
	Aggregated         int     `json:"updates_aggregated"`
}

// Large runs the task once per encoding and reports each.
func Large(ctx context.Context, cfg LargeConfig) ([]LargeResult, error) {
	if cfg.Params < 100 || cfg.Params > pb.MaxParams || cfg.Rounds < 1 || len(cfg.Encodings) == 0 {
		return nil, fmt.Errorf("bench: params must be 100 to %d, rounds at least 1, and one encoding named", pb.MaxParams)
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	fed, note, err := cfg.Source.Open(cfg.Seed)
	if err != nil {
		return nil, err
	}
	if note != "" {
		fmt.Fprintln(out, note)
	}
	in := fed.NumFeatures()
	// An MLP has in·h + 2h + 1 parameters.
	hidden := int(math.Round(float64(cfg.Params-1) / float64(in+2)))
	model := pb.ModelSpec{Arch: pb.ArchMLP, InputDim: uint32(in), HiddenDim: uint32(max(hidden, 1))}
	n, err := model.NumParams()
	if err != nil {
		return nil, err
	}
	var res []LargeResult
	for _, enc := range cfg.Encodings {
		comp, err := protocol.ParseEncoding(enc, cfg.TopkPpm)
		if err != nil {
			return nil, err
		}
		sc := sim.DefaultConfig()
		sc.Data = fed
		sc.Seed = cfg.Seed
		sc.Rounds = cfg.Rounds
		sc.Validators = cfg.Validators
		sc.Model = model
		sc.Compression = comp
		sc.Train = fl.TrainConfig{Optimizer: "sgd", LearningRate: 0.01, Momentum: 0.9, Steps: 5, BatchSize: 16}
		sc.CommitWindow, sc.RevealWindow = 2000, 2000
		sc.BlockInterval = 100 * time.Millisecond
		sc.Out = out
		var updateBytes atomic.Int64 // trainers report concurrently
		sc.OnEvent = func(e fl.Event) {
			if e.Stage == "committed" && e.Round == 1 {
				updateBytes.CompareAndSwap(0, int64(e.UpdateBytes))
			}
		}
		fmt.Fprintf(out, "== %s: %d hospitals, MLP %d-%d-1 (%d parameters), %d rounds\n", enc, len(fed.Hospitals), in, model.HiddenDim, n, cfg.Rounds)
		rep, err := sim.Run(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", enc, err)
		}
		r := LargeResult{Encoding: enc, Params: n, Rounds: cfg.Rounds, UpdateBytes: int(updateBytes.Load()), Accuracy: rep.Final.MeanAccuracy}
		for _, rd := range rep.Rounds {
			r.SecondsPerRound += rd.Seconds / float64(len(rep.Rounds))
			r.ChainBytesPerRound += float64(rd.ChainBytes) / float64(len(rep.Rounds))
			r.LatencyMs += rd.LatencyMs / float64(len(rep.Rounds))
			r.Aggregated += rd.Revealed
		}
		res = append(res, r)
	}
	return res, nil
}
