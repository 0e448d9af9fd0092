package datasets

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distmv"
)

// Dataset is one table before it is split between hospitals: raw
// (unstandardised) features, binary labels, and optionally each row's site.
type Dataset struct {
	Name     string
	Features []string
	Table    Table
	Sites    []string // per row; nil when the data has no site column
	// Positive is the label value read as 1.
	Positive string
}

// Partition says how a Dataset is split between hospitals.
type Partition struct {
	Kind      string  // "natural" (by site), "iid", or "dirichlet"
	Alpha     float64 // Dirichlet concentration over the label
	Hospitals int     // for iid and dirichlet
}

// ParsePartition reads "natural", "iid" or "dirichlet:ALPHA".
func ParsePartition(s string, hospitals int) (Partition, error) {
	p := Partition{Hospitals: hospitals}
	switch {
	case s == "natural" || s == "iid":
		p.Kind = s
	case strings.HasPrefix(s, "dirichlet:"):
		a, err := strconv.ParseFloat(strings.TrimPrefix(s, "dirichlet:"), 64)
		if err != nil || !(a > 0) || math.IsInf(a, 0) {
			return p, fmt.Errorf("datasets: partition %q: the concentration after dirichlet: must be a positive number", s)
		}
		p.Kind, p.Alpha = "dirichlet", a
	default:
		return p, fmt.Errorf("datasets: partition %q unknown (known: natural, iid, dirichlet:ALPHA)", s)
	}
	if p.Kind != "natural" && (hospitals < 1 || hospitals > 1000) {
		return p, fmt.Errorf("datasets: %d hospitals, want 1 to 1000", hospitals)
	}
	return p, nil
}

// MinRows is the fewest rows a hospital may get from a partition (it needs
// rows to train on and rows to test on).
const MinRows = 6

// ErrPartition means the data cannot be split as asked.
var ErrPartition = errors.New("datasets: cannot partition")

// Federate splits the dataset between hospitals, then splits each
// hospital's rows 66/34 into train and test (stratified where possible), and
// z-scores every row with the federation's training mean and standard
// deviation: the statistics a federated mean/variance pass over the
// hospitals' sums would give. (Per-hospital statistics would erase the signal
// of a label-skewed split: a hospital of mostly malignant cases would centre
// its features on malignant values.) Everything is drawn from seed.
func (d *Dataset) Federate(p Partition, seed uint64) (*Federation, error) {
	n := d.Table.Len()
	var groups [][]int
	var names []string
	switch p.Kind {
	case "natural":
		if d.Sites == nil {
			return nil, fmt.Errorf("%w: %s has no site column for a natural partition; name one, or use iid or dirichlet:ALPHA", ErrPartition, d.Name)
		}
		bySite := map[string][]int{}
		for i, s := range d.Sites {
			bySite[s] = append(bySite[s], i)
		}
		for s := range bySite {
			names = append(names, s)
		}
		sort.Strings(names)
		for _, s := range names {
			groups = append(groups, bySite[s])
		}
	case "iid":
		perm := NewRand(seed, "partition-iid").Perm(n)
		groups = make([][]int, p.Hospitals)
		for k, i := range perm {
			groups[k%p.Hospitals] = append(groups[k%p.Hospitals], i)
		}
	case "dirichlet":
		var err error
		if groups, err = dirichletSplit(d.Table, p, seed); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown partition %q", ErrPartition, p.Kind)
	}
	if names == nil {
		for k := range groups {
			names = append(names, fmt.Sprintf("hospital-%02d", k+1))
		}
	}
	fed := &Federation{Name: d.Name, Features: d.Features}
	for k, g := range groups {
		if len(g) < MinRows {
			return nil, fmt.Errorf("%w: %s would get %d rows, fewer than %d; use fewer hospitals or a larger alpha", ErrPartition, names[k], len(g), MinRows)
		}
		sort.Ints(g)
		var t Table
		for _, i := range g {
			t.X = append(t.X, append([]float64(nil), d.Table.X[i]...))
			t.Y = append(t.Y, d.Table.Y[i])
		}
		train, test := trainTestSplit(t, NewRand(seed, "split/"+names[k]))
		fed.Hospitals = append(fed.Hospitals, Hospital{Name: names[k], Train: train, Test: test})
	}
	var pooledTrain, all Table
	for _, h := range fed.Hospitals {
		pooledTrain.X = append(pooledTrain.X, h.Train.X...)
		all.X = append(all.X, h.Test.X...)
	}
	all.X = append(all.X, pooledTrain.X...)
	standardizeWith(pooledTrain, all)
	return fed, nil
}

// dirichletSplit gives each class's rows to hospitals in proportions drawn
// from Dir(alpha) (Hsu et al., 2019), redrawing until every hospital has at
// least MinRows rows.
func dirichletSplit(t Table, p Partition, seed uint64) ([][]int, error) {
	k := p.Hospitals
	if t.Len() < k*MinRows {
		return nil, fmt.Errorf("%w: %d rows cannot give %d hospitals %d rows each", ErrPartition, t.Len(), k, MinRows)
	}
	byClass, classes := rowsByClass(t)
	alpha := make([]float64, k)
	for i := range alpha {
		alpha[i] = p.Alpha
	}
	for attempt := 0; attempt < 100; attempt++ {
		src := rand.NewPCG(seed, uint64(attempt)+0x5eed)
		rng := rand.New(src)
		dir := distmv.NewDirichlet(alpha, src)
		groups := make([][]int, k)
		for _, c := range classes {
			idx := append([]int(nil), byClass[c]...)
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			props := dir.Rand(nil)
			start := 0
			cum := 0.0
			for h := 0; h < k; h++ {
				cum += props[h]
				end := int(math.Round(cum * float64(len(idx))))
				if h == k-1 {
					end = len(idx)
				}
				if end < start {
					end = start
				}
				groups[h] = append(groups[h], idx[start:end]...)
				start = end
			}
		}
		ok := true
		for _, g := range groups {
			if len(g) < MinRows {
				ok = false
			}
		}
		if ok {
			return groups, nil
		}
	}
	return nil, fmt.Errorf("%w: Dirichlet(%g) over %d hospitals left one with fewer than %d rows in 100 draws; use a larger alpha or fewer hospitals", ErrPartition, p.Alpha, k, MinRows)
}
