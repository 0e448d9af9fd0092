package datasets

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// FLambySplitFile is the name of FLamby's fixed Fed-Heart-Disease split in
// the heart-disease folder (see ../shared/datasets/README.md).
const FLambySplitFile = "flamby_split.json"

// flambyTestRows are the test rows FLamby's split must give each hospital.
var flambyTestRows = map[string]int{"cleveland": 104, "hungary": 89, "switzerland": 16, "va": 45}

// LoadHeartFLamby loads Fed-Heart-Disease exactly as FLamby evaluates it:
// the preprocessing of LoadHeart, FLamby's one fixed train/test split per
// hospital (flamby_split.json: the 0-based indices of the test rows among
// the hospital's rows, file order kept), and each hospital's rows, train
// and test, z-scored with that hospital's own training mean and standard
// deviation. Seeds do not change it: FLamby varies only the model's start
// and the batch order. LoadHeartFLambyPooled is the same split for pooled
// training.
func LoadHeartFLamby(dir string) (*Federation, error) {
	fed, err := loadHeartFLambyRaw(dir)
	if err != nil {
		return nil, err
	}
	for _, h := range fed.Hospitals {
		Standardize(h.Train, h.Test)
	}
	return fed, nil
}

// LoadHeartFLambyPooled is FLamby's split as FLamby trains its pooled
// model: the union of the hospitals' training rows, z-scored with the
// pooled training statistics (FLamby's FedHeartDisease with pooled=True
// uses "the training part of the full dataset to compute the statistics"),
// and each hospital's test rows z-scored with that hospital's own training
// statistics, as in LoadHeartFLamby (FLamby scores the pooled model, as
// every other, on the hospitals' own test loaders).
func LoadHeartFLambyPooled(dir string) (train Table, tests []Hospital, err error) {
	fed, err := loadHeartFLambyRaw(dir)
	if err != nil {
		return Table{}, nil, err
	}
	return pooledScaled(fed), fed.Hospitals, nil
}

// loadHeartFLambyRaw is FLamby's split, unscaled.
func loadHeartFLambyRaw(dir string) (*Federation, error) {
	hd := heartDir(dir)
	path := filepath.Join(hd, FLambySplitFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (FLamby's fixed split ships with ../shared/datasets/heart-disease)", ErrNoData, path, err)
	}
	var split struct {
		TestRows map[string][]int `json:"test_rows"`
	}
	if err := json.Unmarshal(raw, &split); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	fed := &Federation{Name: "heart-disease (FLamby split)", Features: HeartFeatures}
	for _, hf := range HeartFiles {
		all, err := loadHeartFile(hd, hf)
		if err != nil {
			return nil, err
		}
		test := split.TestRows[hf.Hospital]
		if len(test) != flambyTestRows[hf.Hospital] {
			return nil, fmt.Errorf("datasets: %s lists %d test rows for %s; FLamby's split has %d", path, len(test), hf.Hospital, flambyTestRows[hf.Hospital])
		}
		isTest := make([]bool, all.Len())
		for _, i := range test {
			if i < 0 || i >= all.Len() || isTest[i] {
				return nil, fmt.Errorf("datasets: %s: test row %d of %s is out of range or listed twice", path, i, hf.Hospital)
			}
			isTest[i] = true
		}
		var tr, te Table
		for i := range all.Y {
			dst := &tr
			if isTest[i] {
				dst = &te
			}
			dst.X = append(dst.X, all.X[i])
			dst.Y = append(dst.Y, all.Y[i])
		}
		fed.Hospitals = append(fed.Hospitals, Hospital{Name: hf.Hospital, Train: tr, Test: te})
	}
	return fed, nil
}

// HoldOut carves validation rows out of each hospital's training rows: a
// stratified share frac (in (0, 1)) drawn from seed, with at least one row
// of every class that has two. It returns the
// federation training on the rest, scored on the validation rows as its
// test rows: what a recipe is chosen on, so that the test rows are never
// looked at before the choice.
func (f *Federation) HoldOut(frac float64, seed uint64) (*Federation, error) {
	if !(frac > 0 && frac < 1) {
		return nil, fmt.Errorf("datasets: validation share %v, want in (0, 1)", frac)
	}
	out := &Federation{Name: f.Name + " (validation)", Features: f.Features}
	for _, h := range f.Hospitals {
		rng := NewRand(seed, "holdout/"+h.Name)
		byClass, classes := rowsByClass(h.Train)
		isVal := make([]bool, h.Train.Len())
		for _, c := range classes {
			rows := append([]int(nil), byClass[c]...)
			sort.Ints(rows)
			rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
			k := int(frac*float64(len(rows)) + 0.5)
			if k == 0 && len(rows) >= 2 {
				k = 1 // every class with two rows or more is validated
			}
			for _, i := range rows[:k] {
				isVal[i] = true
			}
		}
		var tr, va Table
		for i := range h.Train.Y {
			dst := &tr
			if isVal[i] {
				dst = &va
			}
			dst.X = append(dst.X, h.Train.X[i])
			dst.Y = append(dst.Y, h.Train.Y[i])
		}
		if tr.Len() == 0 || va.Len() == 0 {
			return nil, fmt.Errorf("datasets: %s has %d training rows, too few to hold out %v", h.Name, h.Train.Len(), frac)
		}
		out.Hospitals = append(out.Hospitals, Hospital{Name: h.Name, Train: tr, Test: va})
	}
	return out, nil
}
