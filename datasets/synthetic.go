package datasets

import (
	"fmt"
	"math"
)

// Synthetic returns a seeded cohort of the heart data's shape: four
// hospitals of 303, 261, 46 and 130 patients with 13 features, labels drawn
// from one logistic ground truth, and a per-hospital shift of the features
// so that the sites differ as real ones do. It is SyntheticCohort(seed, 4).
func Synthetic(seed uint64) *Federation {
	fed, _ := SyntheticCohort(seed, 4)
	return fed
}

// MaxSyntheticHospitals is the largest synthetic cohort.
const MaxSyntheticHospitals = 100

// SyntheticCohort returns the synthetic cohort with n hospitals (1 to
// MaxSyntheticHospitals): the first four are Synthetic's, and hospital i
// beyond them ("site-05", …) has the patients of heart hospital i mod 4 and
// a shift of its own. The same seed gives the same first hospitals for
// every n.
func SyntheticCohort(seed uint64, n int) (*Federation, error) {
	if n < 1 || n > MaxSyntheticHospitals {
		return nil, fmt.Errorf("datasets: a synthetic cohort of %d hospitals; want 1 to %d", n, MaxSyntheticHospitals)
	}
	rng := NewRand(seed, "synthetic")
	d := len(HeartFeatures)
	truth := make([]float64, d)
	for j := range truth {
		truth[j] = rng.NormFloat64()
	}
	fed := &Federation{Name: "synthetic", Features: HeartFeatures, Synthetic: true}
	for i := range n {
		hf := HeartFiles[i%len(HeartFiles)]
		name := hf.Hospital
		if i >= len(HeartFiles) {
			name = fmt.Sprintf("site-%02d", i+1)
		}
		shift := make([]float64, d)
		for j := range shift {
			shift[j] = 0.5 * rng.NormFloat64()
		}
		var all Table
		for range hf.Rows {
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
		train, test := trainTestSplit(all, NewRand(seed, "synthetic-split/"+name))
		Standardize(train, test)
		fed.Hospitals = append(fed.Hospitals, Hospital{Name: name, Train: train, Test: test})
	}
	return fed, nil
}

// Summary is one line per hospital: name, train and test sizes.
func (f *Federation) Summary() string {
	s := ""
	for _, h := range f.Hospitals {
		s += fmt.Sprintf("%-12s train %s, test %s\n", h.Name, describe(h.Train), describe(h.Test))
	}
	return s
}
