package datasets_test

import (
	"fmt"

	"github.com/fedledger/fedledger/datasets"
)

// The synthetic cohort has the heart data's shape: four hospitals, 13
// features, FLamby's 66/34 split sizes.
func ExampleSynthetic() {
	fed := datasets.Synthetic(42)
	for _, h := range fed.Hospitals {
		fmt.Println(h.Name, h.Train.Len(), h.Test.Len(), len(h.Train.X[0]))
	}
	// Output:
	// cleveland 199 104 13
	// hungary 172 89 13
	// switzerland 30 16 13
	// va 85 45 13
}
