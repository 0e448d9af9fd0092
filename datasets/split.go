package datasets

import (
	"math"
	"math/rand/v2"
	"sort"
)

// TrainFraction is FLamby's share of each hospital's rows used for training.
const TrainFraction = 0.66

// splitSizes returns the train and test sizes scikit-learn's
// train_test_split gives for n rows and FLamby's 0.66/0.34 fractions.
func splitSizes(n int) (train, test int) {
	test = int(math.Ceil((1 - TrainFraction) * float64(n)))
	train = int(math.Floor(TrainFraction * float64(n)))
	if train+test > n {
		train = n - test
	}
	return train, test
}

// trainTestSplit shuffles the rows of t with rng and splits them 66/34,
// stratified by label unless a class has 2 rows or fewer (FLamby's rule).
func trainTestSplit(t Table, rng *rand.Rand) (Table, Table) {
	n := t.Len()
	_, nTest := splitSizes(n)
	byClass, classes := rowsByClass(t)
	stratify := len(classes) > 1
	for _, c := range classes {
		if len(byClass[c]) <= 2 {
			stratify = false
		}
	}
	var testIdx []int
	if stratify {
		// Allocate test rows to classes in proportion, largest remainders first.
		alloc := make([]int, len(classes))
		rem := make([]float64, len(classes))
		given := 0
		for k, c := range classes {
			exact := float64(nTest) * float64(len(byClass[c])) / float64(n)
			alloc[k] = int(math.Floor(exact))
			rem[k] = exact - float64(alloc[k])
			given += alloc[k]
		}
		order := make([]int, len(classes))
		for k := range order {
			order[k] = k
		}
		sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
		for k := 0; given < nTest; k++ {
			alloc[order[k%len(order)]]++
			given++
		}
		for k, c := range classes {
			idx := append([]int(nil), byClass[c]...)
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			testIdx = append(testIdx, idx[:alloc[k]]...)
		}
	} else {
		perm := rng.Perm(n)
		testIdx = perm[:nTest]
	}
	isTest := make([]bool, n)
	for _, i := range testIdx {
		isTest[i] = true
	}
	var train, test Table
	for i := 0; i < n; i++ {
		row := append([]float64(nil), t.X[i]...)
		if isTest[i] {
			test.X, test.Y = append(test.X, row), append(test.Y, t.Y[i])
		} else {
			train.X, train.Y = append(train.X, row), append(train.Y, t.Y[i])
		}
	}
	shuffleTable(train, rng)
	shuffleTable(test, rng)
	return train, test
}

// rowsByClass groups row indices by label and lists the labels in order.
func rowsByClass(t Table) (map[float64][]int, []float64) {
	byClass := map[float64][]int{}
	for i, y := range t.Y {
		byClass[y] = append(byClass[y], i)
	}
	classes := make([]float64, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Float64s(classes)
	return byClass, classes
}

func shuffleTable(t Table, rng *rand.Rand) {
	rng.Shuffle(t.Len(), func(i, j int) {
		t.X[i], t.X[j] = t.X[j], t.X[i]
		t.Y[i], t.Y[j] = t.Y[j], t.Y[i]
	})
}

// NewRand returns the package's seeded generator for a purpose: the same
// seed and purpose always give the same stream.
func NewRand(seed uint64, purpose string) *rand.Rand {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(purpose); i++ {
		h ^= uint64(purpose[i])
		h *= 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h))
}
