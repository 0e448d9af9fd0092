package protocol

import (
	"fmt"
	"sort"
	"strings"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// ServerOpts are the server optimizers with the hyperparameters fedledger
// uses by default: server learning rate 1 and momentum 0.5 for FedAvgM;
// η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 10⁻³ for the adaptive ones (Reddi et al.).
func ServerOpts() map[string]pb.ServerOpt {
	adaptive := func(name string) pb.ServerOpt {
		return pb.ServerOpt{Name: name, LrMicro: 100_000, Beta1Micro: 900_000, Beta2Micro: 990_000, TauMicro: 1_000}
	}
	return map[string]pb.ServerOpt{
		"fedavg":     {},
		"fedavgm":    {Name: "fedavgm", LrMicro: 1_000_000, Beta1Micro: 500_000},
		"fedadagrad": adaptive("fedadagrad"),
		"fedadam":    adaptive("fedadam"),
		"fedyogi":    adaptive("fedyogi"),
	}
}

// ServerOpt returns the preset of a server optimizer by name.
func ServerOpt(name string) (pb.ServerOpt, error) {
	o, ok := ServerOpts()[name]
	if !ok {
		names := make([]string, 0, 5)
		for n := range ServerOpts() {
			names = append(names, n)
		}
		sort.Strings(names)
		return pb.ServerOpt{}, fmt.Errorf("unknown server optimizer %q (known: %s)", name, strings.Join(names, ", "))
	}
	return o, nil
}

// Task defaults: what `fedledger task create` and the simulator use when
// the researcher says nothing.
const (
	DefaultFracBits     = 16  // fixed-point scale 2^-16 of models and updates
	DefaultCommitWindow = 100 // blocks
	DefaultRevealWindow = 100 // blocks
)

// DefaultMinParticipants is half the invited hospitals, rounded up.
func DefaultMinParticipants(invited int) uint32 { return uint32((invited + 1) / 2) }
