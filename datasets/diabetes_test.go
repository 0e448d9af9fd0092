package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadDiabetes reads the table Debian's python3-sklearn ships (.ci/run
// installs it): 442 patients, ten variables, half above the median.
func TestLoadDiabetes(t *testing.T) {
	if _, err := os.Stat(filepath.Join(Diabetes.DebianDir, Diabetes.Data)); err != nil && os.Getenv("CI") == "" {
		t.Skipf("python3-sklearn is not installed (%v); .ci/run installs it", err)
	}
	d, err := LoadDiabetes("")
	if err != nil {
		t.Fatal(err)
	}
	pos := 0.0
	for _, y := range d.Table.Y {
		pos += y
	}
	if d.Table.Len() != 442 || len(d.Table.X[0]) != 10 || pos != 221 {
		t.Fatalf("%d rows, %d features, %v positive; want 442, 10, 221", d.Table.Len(), len(d.Table.X[0]), pos)
	}
	if x := d.Table.X[0]; x[0] != 59 || x[1] != 2 || x[9] != 87 || d.Table.Y[0] != 1 {
		t.Fatalf("first patient %v label %v; want age 59, sex 2, glu 87, progression 151 > 140.5", x, d.Table.Y[0])
	}
	fed, _, err := Source{Dataset: "diabetes", Hospitals: 10, Partition: "dirichlet:0.5"}.Open(1)
	if err != nil || len(fed.Hospitals) != 10 {
		t.Fatalf("federation: %v", err)
	}
	// A copy that is not the table is refused, and a missing one says how to get it.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "diabetes"), 0o755)
	os.WriteFile(filepath.Join(dir, "diabetes", Diabetes.Data), []byte("not gzip"), 0o644)
	if _, err := LoadDiabetes(dir); err == nil {
		t.Fatal("a corrupt copy was accepted")
	}
	if _, err := loadDiabetesFrom(filepath.Join(dir, "none")); !errors.Is(err, ErrNoData) {
		t.Fatalf("missing files: %v, want ErrNoData", err)
	}
}
