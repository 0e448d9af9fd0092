package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fedledger/fedledger/aggregator"
)

// ReputationSuffix marks a rule Aggregate times with its reputation evidence.
const ReputationSuffix = "+reputation"

// AggregateRules is what `bench aggregate` times by default: every rule,
// and the robust default as a round runs it.
func AggregateRules() []string {
	return append(append([]string(nil), aggregator.Rules...), RobustRule+ReputationSuffix)
}

// AggResult is one rule's speed, beside the machine's plain memory-copy
// rate measured on the same buffers in the same run.
type AggResult struct {
	Rule                 string  `json:"rule"`
	Seconds              float64 `json:"seconds"`
	BytesPerSecond       float64 `json:"bytes_per_second"`
	MemcpyBytesPerSecond float64 `json:"memcpy_bytes_per_second"`
	Ratio                float64 `json:"ratio"`
}

// Aggregate times each rule over updates updates of params parameters
// (int64 values in the int32 range, as decoded updates are), best of reps.
// A rule named NAME+reputation is timed as FinalizeBlock runs a round with
// reputation on (aggregator.RunRound: the rule plus its evidence, norms,
// near-duplicates and cosines). Bytes processed are the updates' in-memory
// bytes (8 per value).
func Aggregate(params, updates int, rules []string, reps int) ([]AggResult, error) {
	if params < 1 || updates < 1 || reps < 1 {
		return nil, fmt.Errorf("bench: params, updates and reps must be at least 1")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ups := make([]aggregator.Update, updates)
	for i := range ups {
		v := make([]int64, params)
		for j := range v {
			v[j] = int64(rng.Int32N(1<<21)) - 1<<20
		}
		ups[i] = aggregator.Update{Values: v, Weight: uint64(1 + rng.IntN(1000))}
	}
	dst := make([][]int64, updates)
	for i := range dst {
		dst[i] = make([]int64, params)
	}
	bytes := float64(8 * params * updates)
	var out []AggResult
	members := make([]aggregator.Member, updates)
	for i, u := range ups {
		members[i] = aggregator.Member{Committed: true, Revealed: true, Update: u.Values, Weight: u.Weight, Score: aggregator.ScoreStart}
	}
	for _, name := range rules {
		base, reputation := strings.CutSuffix(name, ReputationSuffix)
		rule, err := aggregator.RuleByName(base)
		if err != nil {
			return nil, err
		}
		best, bestCopy := time.Duration(1<<62), time.Duration(1<<62)
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			for i, u := range ups {
				copy(dst[i], u.Values)
			}
			if d := time.Since(t0); d < bestCopy {
				bestCopy = d
			}
			t0 = time.Now()
			if reputation {
				_, err = aggregator.RunRound(members, rule, true, 0)
			} else {
				_, err = rule.Aggregate(ups)
			}
			if err != nil {
				return nil, err
			}
			if d := time.Since(t0); d < best {
				best = d
			}
		}
		res := AggResult{Rule: name, Seconds: best.Seconds(), BytesPerSecond: bytes / best.Seconds(), MemcpyBytesPerSecond: bytes / bestCopy.Seconds()}
		res.Ratio = res.BytesPerSecond / res.MemcpyBytesPerSecond
		out = append(out, res)
	}
	return out, nil
}
