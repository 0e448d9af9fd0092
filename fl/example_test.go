package fl_test

import (
	"fmt"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Updates travel in fixed point: 16 fractional bits here.
func ExampleQuantize() {
	q := fl.Quantize([]float64{0.5, -0.25, 1.0 / 3}, 16, pb.WIDTH_INT32)
	fmt.Println(q)
	fmt.Println(fl.Dequantize(q, 16))
	// Output:
	// [32768 -16384 21845]
	// [0.5 -0.25 0.3333282470703125]
}
