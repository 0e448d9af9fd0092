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
