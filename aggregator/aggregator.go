package aggregator

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with detail.
var (
	// ErrNoUpdates means the rule was given nothing to aggregate.
	ErrNoUpdates = errors.New("aggregator: no updates")
	// ErrShape means the updates do not all have the same length.
	ErrShape = errors.New("aggregator: updates differ in length")
	// ErrZeroWeight means every weight was zero, or a weight sum overflowed.
	ErrZeroWeight = errors.New("aggregator: total weight is zero or too large")
	// ErrUnknownRule means no rule has the given name.
	ErrUnknownRule = errors.New("aggregator: unknown rule")
)

// Update is one participant's fixed-point update and its weight.
type Update struct {
	Values []int64
	Weight uint64
}

// Result is what a Rule returns: the aggregate, and the weight each input
// effectively received (0 for an input the rule excluded), in input order.
type Result struct {
	Values  []int64
	Weights []uint64
}

// Rule is an aggregation rule the chain can run inside FinalizeBlock.
// Implementations must be deterministic and must not keep state between calls.
type Rule interface {
	// Name is the rule's name as written in a task spec.
	Name() string
	// Aggregate combines updates of equal length.
	Aggregate(updates []Update) (Result, error)
}

// RuleByName returns the rule a task spec names.
func RuleByName(name string) (Rule, error) {
	switch name {
	case "fedavg", "":
		return FedAvgRule{}, nil
	}
	return nil, fmt.Errorf("%w %q (known: fedavg)", ErrUnknownRule, name)
}

// FedAvgRule is weighted federated averaging (McMahan et al., 2017).
type FedAvgRule struct{}

// Name implements Rule.
func (FedAvgRule) Name() string { return "fedavg" }

// Aggregate implements Rule.
func (FedAvgRule) Aggregate(updates []Update) (Result, error) {
	v, err := FedAvg(updates)
	if err != nil {
		return Result{}, err
	}
	w := make([]uint64, len(updates))
	for i, u := range updates {
		w[i] = u.Weight
	}
	return Result{Values: v, Weights: w}, nil
}

// FedAvg returns the weighted mean Σ wᵢ·vᵢ / Σ wᵢ of the updates, coordinate
// by coordinate, rounded half away from zero (see the package doc).
// Updates with weight 0 take no part. Cost: O(n·d) time, O(d) memory.
func FedAvg(updates []Update) ([]int64, error) {
	if len(updates) == 0 {
		return nil, ErrNoUpdates
	}
	d := len(updates[0].Values)
	var total uint64
	var maxAbs uint64
	for i, u := range updates {
		if len(u.Values) != d {
			return nil, fmt.Errorf("%w: update %d has %d values, update 0 has %d", ErrShape, i, len(u.Values), d)
		}
		if u.Weight == 0 {
			continue
		}
		if total+u.Weight < total || total+u.Weight > math.MaxInt64 {
			return nil, fmt.Errorf("%w: weights overflow", ErrZeroWeight)
		}
		total += u.Weight
		for _, v := range u.Values {
			if a := absU(v); a > maxAbs {
				maxAbs = a
			}
		}
	}
	if total == 0 {
		return nil, ErrZeroWeight
	}
	out := make([]int64, d)
	// Fast path: when |v|·Σw < 2^63 every partial sum fits in int64.
	if maxAbs == 0 || maxAbs <= (math.MaxInt64/total) {
		acc := make([]int64, d)
		for _, u := range updates {
			if u.Weight == 0 {
				continue
			}
			w := int64(u.Weight)
			for j, v := range u.Values {
				acc[j] += w * v
			}
		}
		for j, s := range acc {
			out[j] = divRound64(s, total)
		}
		return out, nil
	}
	// Exact path with 128-bit sums.
	acc := make([]int128, d)
	for _, u := range updates {
		if u.Weight == 0 {
			continue
		}
		for j, v := range u.Values {
			acc[j] = acc[j].add(mul64(v, u.Weight))
		}
	}
	for j, s := range acc {
		out[j] = s.divRound(total)
	}
	return out, nil
}

// AddSaturating returns model + delta coordinate-wise, clamped to
// [minV, maxV] (for example math.MinInt32 and math.MaxInt32).
func AddSaturating(model, delta []int64, minV, maxV int64) ([]int64, error) {
	if len(model) != len(delta) {
		return nil, fmt.Errorf("%w: model has %d values, delta %d", ErrShape, len(model), len(delta))
	}
	out := make([]int64, len(model))
	for j := range model {
		a, b := model[j], delta[j]
		s := a + b
		// Overflow of int64 itself: both operands share a sign the sum lacks.
		if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
			if a > 0 {
				s = math.MaxInt64
			} else {
				s = math.MinInt64
			}
		}
		if s > maxV {
			s = maxV
		}
		if s < minV {
			s = minV
		}
		out[j] = s
	}
	return out, nil
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// divRound64 divides s by d > 0, rounding half away from zero.
func divRound64(s int64, d uint64) int64 {
	neg := s < 0
	a := absU(s)
	q, r := a/d, a%d
	if r >= d-r { // 2r >= d without overflow
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}
