package aggregator_test

import (
	"fmt"

	"github.com/fedledger/fedledger/aggregator"
)

func ExampleFedAvg() {
	avg, err := aggregator.FedAvg([]aggregator.Update{
		{Values: []int64{10, -20, 3}, Weight: 3}, // 3 samples
		{Values: []int64{30, 40, 4}, Weight: 1},  // 1 sample
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(avg)
	// Output: [15 -5 3]
}

// Huber's estimate lies between the median and the mean where the values
// are skewed, and ignores values far out, as the median does.
func ExampleHuber() {
	skewed := []int64{0, 100, 200, 300, 400, 1000, 2000}
	var u []aggregator.Update
	for _, v := range skewed {
		u = append(u, aggregator.Update{Values: []int64{v, v}, Weight: 1})
	}
	u[6].Values[1] = 1 << 60 // one value far out
	h, _ := aggregator.Huber(u)
	med, _ := aggregator.Median(u)
	mean, _ := aggregator.FedAvg(u[:6:6])
	fmt.Println("huber", h, "median", med, "mean of the first six", mean)
	// Output: huber [359 359] median [300 300] mean of the first six [333 333]
}

// A round read a block at a time: StreamRound asks the source for blocks
// of StreamBlock coordinates and hands the aggregate on the same way.
func ExampleStreamRound() {
	members := []aggregator.Member{
		{Committed: true, Revealed: true, Update: []int64{10, -20, 3}, Weight: 1, Score: aggregator.ScoreStart},
		{Committed: true, Revealed: true, Update: []int64{30, 40, 4}, Weight: 1, Score: aggregator.ScoreStart},
		{Committed: true, Revealed: true, Update: []int64{20, 10, 5}, Weight: 1, Score: aggregator.ScoreStart},
		{Score: aggregator.ScoreStart}, // invited, sent nothing
	}
	src := aggregator.SliceSource{members[0].Update, members[1].Update, members[2].Update}
	rule, _ := aggregator.RuleByName("median")
	out, err := aggregator.StreamRound(members, 3, src, rule, true, func(lo int, block []int64) error {
		fmt.Println("coordinates from", lo, block)
		return nil
	}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("used", out.Used, "absent member's change", out.Changes[3].Delta, out.Changes[3].Reasons)
	// Output:
	// coordinates from 0 [20 10 4]
	// used 3 absent member's change -100000 [absent: no commitment]
}
