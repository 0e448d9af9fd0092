package datasets

import (
	"fmt"
	"math"
)

// Synthetic returns a seeded cohort of the heart data's shape: four
// hospitals of 303, 261, 46 and 130 patients with 13 features, labels drawn
// from one logistic ground truth, and a per-hospital shift of the features
// so that the sites differ as real ones do.
func Synthetic(seed uint64) *Federation {
	rng := NewRand(seed, "synthetic")
	d := len(HeartFeatures)
	truth := make([]float64, d)
	for j := range truth {
		truth[j] = rng.NormFloat64()
	}
	fed := &Federation{Name: "synthetic", Features: HeartFeatures, Synthetic: true}
	for _, hf := range HeartFiles {
		shift := make([]float64, d)
		for j := range shift {
			shift[j] = 0.5 * rng.NormFloat64()
		}
		var all Table
		for i := 0; i < hf.Rows; i++ {
			row := make([]float64, d)
			z := 0.0
			for j := range row {
				row[j] = rng.NormFloat64() + shift[j]
				z += truth[j] * row[j]
			}
			p := 1 / (1 + math.Exp(-z))
			all.X = append(all.X, row)
			all.Y = append(all.Y, b2f(rng.Float64() < p))
		}
		train, test := trainTestSplit(all, NewRand(seed, "synthetic-split/"+hf.Hospital))
		Standardize(train, test)
		fed.Hospitals = append(fed.Hospitals, Hospital{Name: hf.Hospital, Train: train, Test: test})
	}
	return fed
}

// Summary is one line per hospital: name, train and test sizes.
func (f *Federation) Summary() string {
	s := ""
	for _, h := range f.Hospitals {
		s += fmt.Sprintf("%-12s train %s, test %s\n", h.Name, describe(h.Train), describe(h.Test))
	}
	return s
}
