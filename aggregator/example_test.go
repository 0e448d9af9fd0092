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

// The rule "huber" clips every update to the round's median norm before
// Huber's estimate. Three of seven updates scaled tenfold (model
// replacement) all sit on one side of every coordinate; unclipped, each
// adds the band's full width c to Huber's step, clipped they are three
// updates of the median's length.
func ExampleClippedHuber() {
	u := []aggregator.Update{
		{Values: []int64{100, 20}, Weight: 1},
		{Values: []int64{80, 40}, Weight: 1},
		{Values: []int64{120, 0}, Weight: 1},
		{Values: []int64{90, 30}, Weight: 1},
	}
	for range 3 {
		u = append(u, aggregator.Update{Values: []int64{1000, 200}, Weight: 1}) // 10 × (100, 20)
	}
	fmt.Println("norms", aggregator.Norms(u))
	clipped, _ := aggregator.ClippedHuber(u, 120) // the median norm
	plain, _ := aggregator.Huber(u)
	fmt.Println("clipped", clipped, "unclipped", plain)
	// Output:
	// norms [101 89 120 94 1019 1019 1019]
	// clipped [116 24] unclipped [157 82]
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
	out, err := aggregator.StreamRound(members, 3, src, rule, true, 0, func(lo int, block []int64) error {
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

// Alike updates are counted once: the fourth hospital sends the second's
// step with a little noise (6 %, past the 2 % sybil fact), so it is left
// out of the median with its reason and no change to its score; the other
// updates are as far from each other as hospitals' usually are.
func ExampleRunRound_alike() {
	up := func(v ...int64) aggregator.Member {
		return aggregator.Member{Committed: true, Revealed: true, Update: v, Weight: 1, Score: aggregator.ScoreStart}
	}
	members := []aggregator.Member{
		up(100, 0, 0, 40), up(0, 100, 0, 40), up(0, 0, 100, 40),
		up(5, 100, -4, 40), // the second's step, 6 % away
		up(60, 60, 60, -20),
	}
	rule, _ := aggregator.RuleByName("median")
	out, err := aggregator.RunRound(members, rule, true, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("weights", out.Weights, "used", out.Used)
	fmt.Println(out.Changes[3].Delta, out.Changes[3].Reasons)
	// Output:
	// weights [1 1 1 0 1] used 4
	// 0 [alike: counted once, with the update of the task's hospital #2]
}
