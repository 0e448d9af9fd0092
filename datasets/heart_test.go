package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sharedDir finds ../shared/datasets (or $FEDLEDGER_DATA); the real files
// are required, so a missing directory fails the test rather than skipping.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := FindDir("")
	if dir == "" {
		t.Fatalf("no data directory: set %s or keep ../shared/datasets beside the checkout", EnvData)
	}
	return dir
}

func TestLoadHeartCounts(t *testing.T) {
	fed, err := LoadHeart(sharedDir(t), 42)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name        string
		train, test int
	}{{"cleveland", 199, 104}, {"hungary", 172, 89}, {"switzerland", 30, 16}, {"va", 85, 45}}
	if len(fed.Hospitals) != 4 {
		t.Fatalf("%d hospitals", len(fed.Hospitals))
	}
	for i, w := range want {
		h := fed.Hospitals[i]
		if h.Name != w.name || h.Train.Len() != w.train || h.Test.Len() != w.test {
			t.Errorf("hospital %d: %s %d/%d, want %s %d/%d", i, h.Name, h.Train.Len(), h.Test.Len(), w.name, w.train, w.test)
		}
		if len(h.Train.X[0]) != 13 {
			t.Errorf("%s: %d features, want 13", h.Name, len(h.Train.X[0]))
		}
	}
	// Stratified split keeps the class balance of Cleveland close in both halves.
	c := fed.Hospitals[0]
	ptr, pte := float64(c.Train.Positives())/float64(c.Train.Len()), float64(c.Test.Positives())/float64(c.Test.Len())
	if d := ptr - pte; d > 0.02 || d < -0.02 {
		t.Errorf("cleveland positive rate train %.3f test %.3f: split is not stratified", ptr, pte)
	}
}

// TestLoadHeartPooled: the pooled training rows of a random split are
// scaled with the pooled statistics, and its test rows per hospital, as
// LoadHeart's with the same seed.
func TestLoadHeartPooled(t *testing.T) {
	fed, err := LoadHeart(sharedDir(t), 42)
	if err != nil {
		t.Fatal(err)
	}
	pooled, tests, err := LoadHeartPooled(sharedDir(t), 42)
	if err != nil {
		t.Fatal(err)
	}
	checkPooled(t, fed, pooled, tests)
}

func TestLoadHeartSeeded(t *testing.T) {
	dir := sharedDir(t)
	a, err := LoadHeart(dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LoadHeart(dir, 7)
	c, _ := LoadHeart(dir, 8)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different splits")
	}
	if reflect.DeepEqual(a.Hospitals[0].Test, c.Hospitals[0].Test) {
		t.Fatal("different seeds gave the same split")
	}
}

func TestLoadHeartBadFiles(t *testing.T) {
	src := filepath.Join(heartDir(sharedDir(t)), "processed.cleveland.data")
	dir := t.TempDir()
	if _, err := LoadHeart(dir, 1); !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "processed.cleveland.data") {
		t.Fatalf("missing files: %v", err)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = '9'
	if err := os.WriteFile(filepath.Join(dir, "processed.cleveland.data"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHeart(dir, 1); err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("altered file: %v", err)
	}
}

func TestSynthetic(t *testing.T) {
	a, b := Synthetic(3), Synthetic(3)
	if !reflect.DeepEqual(a, b) || !a.Synthetic || len(a.Hospitals) != 4 || a.Hospitals[2].Test.Len() != 16 {
		t.Fatalf("synthetic cohort not as documented")
	}
}

// TestLoadHeartHospital: one hospital's own file gives exactly the rows
// and scaling LoadHeart gives that hospital, and needs no other file.
func TestLoadHeartHospital(t *testing.T) {
	dir := FindDir("")
	if dir == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", EnvData)
	}
	fed, err := LoadHeart(dir, 42)
	if err != nil {
		t.Fatal(err)
	}
	only := t.TempDir()
	for _, want := range fed.Hospitals {
		hf := HeartFiles[0]
		for _, f := range HeartFiles {
			if f.Hospital == want.Name {
				hf = f
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, "heart-disease", hf.File))
		if err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(only)
		os.MkdirAll(filepath.Join(only, "heart-disease"), 0o755)
		if err := os.WriteFile(filepath.Join(only, "heart-disease", hf.File), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadHeartHospital(only, want.Name, 42)
		if err != nil {
			t.Fatalf("%s from its own file alone: %v", want.Name, err)
		}
		if !reflect.DeepEqual(got.Train, want.Train) || !reflect.DeepEqual(got.Test, want.Test) {
			t.Errorf("%s: rows or scaling differ from LoadHeart's", want.Name)
		}
	}
	if _, err := LoadHeartHospital(dir, "boston", 42); err == nil {
		t.Error("an unknown hospital loaded")
	}
}

// TestSyntheticCohort: the cohort of n hospitals extends the four of
// Synthetic (the same hospitals, row for row) and refuses sizes it cannot
// make.
func TestSyntheticCohort(t *testing.T) {
	ten, err := SyntheticCohort(3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ten.Hospitals) != 10 || ten.Hospitals[9].Name != "site-10" || ten.Hospitals[9].Train.Len() != Synthetic(3).Hospitals[1].Train.Len() {
		t.Fatalf("ten hospitals: %s", ten.Summary())
	}
	if !reflect.DeepEqual(ten.Hospitals[:4], Synthetic(3).Hospitals) {
		t.Fatal("the first four hospitals differ from Synthetic's")
	}
	if reflect.DeepEqual(ten.Hospitals[4].Train, ten.Hospitals[0].Train) {
		t.Fatal("site-05 repeats cleveland's patients")
	}
	for _, n := range []int{0, -1, MaxSyntheticHospitals + 1} {
		if _, err := SyntheticCohort(3, n); err == nil {
			t.Fatalf("%d hospitals accepted", n)
		}
	}
	fed, _, err := Source{Dataset: "synthetic", Hospitals: 6}.Open(3)
	if err != nil || len(fed.Hospitals) != 6 {
		t.Fatalf("source: %v", err)
	}
	if _, _, err := (Source{Dataset: "synthetic", Partition: "iid"}).Open(3); err == nil {
		t.Fatal("an iid synthetic cohort accepted")
	}
}
