package datasets

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Diabetes is Efron, Hastie, Johnstone and Tibshirani's diabetes table
// ("Least Angle Regression", Annals of Statistics, 2004): ten baseline
// variables of 442 patients and their disease progression one year later.
// Debian ships it in python3-sklearn; the MD5 sums are of the decompressed
// files.
var Diabetes = struct {
	Data, Target, DataMD5, TargetMD5, DebianDir string
}{
	"diabetes_data_raw.csv.gz", "diabetes_target.csv.gz",
	"2c4ab40e72f133defddd16aa997d7a84", "3e3835cad7a1565b5142786dfbd64bc6",
	"/usr/lib/python3/dist-packages/sklearn/datasets/data",
}

// DiabetesFeatures are the ten baseline variables.
var DiabetesFeatures = []string{"age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"}

// LoadDiabetes loads the diabetes table from dir/diabetes (the two files
// copied there) or, when dir has none, from Debian's python3-sklearn
// (`apt-get install python3-sklearn`). The label is 1 when the progression
// is above the median of the 442 patients' (140.5), which halves them; the
// table has no sites: split it with Federate.
func LoadDiabetes(dir string) (*Dataset, error) {
	where := filepath.Join(dir, "diabetes")
	if _, err := os.Stat(filepath.Join(where, Diabetes.Data)); dir == "" || err != nil {
		where = Diabetes.DebianDir
	}
	return loadDiabetesFrom(where)
}

// loadDiabetesFrom loads the two files from where.
func loadDiabetesFrom(where string) (*Dataset, error) {
	read := func(name, sum string) ([][]string, error) {
		path := filepath.Join(where, name)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v (install Debian's python3-sklearn, which ships the diabetes table, or copy %s and %s into DATA/diabetes)",
				ErrNoData, err, Diabetes.Data, Diabetes.Target)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %v", path, err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %v", path, err)
		}
		if got := md5.Sum(raw); hex.EncodeToString(got[:]) != sum {
			return nil, fmt.Errorf("datasets: %s decompresses to MD5 %x, want %s: not the diabetes table scikit-learn ships", path, got, sum)
		}
		var rows [][]string
		for _, line := range strings.Split(string(bytes.TrimSpace(raw)), "\n") {
			rows = append(rows, strings.Fields(line))
		}
		return rows, nil
	}
	data, err := read(Diabetes.Data, Diabetes.DataMD5)
	if err != nil {
		return nil, err
	}
	target, err := read(Diabetes.Target, Diabetes.TargetMD5)
	if err != nil {
		return nil, err
	}
	if len(data) != len(target) {
		return nil, fmt.Errorf("datasets: diabetes: %d rows of data, %d targets", len(data), len(target))
	}
	d := &Dataset{Name: "diabetes", Features: DiabetesFeatures, Positive: "progression above the median"}
	prog := make([]float64, len(target))
	for i, row := range data {
		if len(row) != len(DiabetesFeatures) || len(target[i]) != 1 {
			return nil, fmt.Errorf("datasets: diabetes row %d: %d values and %d targets, want %d and 1", i+1, len(row), len(target[i]), len(DiabetesFeatures))
		}
		x := make([]float64, len(row))
		for j, s := range row {
			if x[j], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("datasets: diabetes row %d column %d: %q is not a number", i+1, j+1, s)
			}
		}
		if prog[i], err = strconv.ParseFloat(target[i][0], 64); err != nil {
			return nil, fmt.Errorf("datasets: diabetes target %d: %q is not a number", i+1, target[i][0])
		}
		d.Table.X = append(d.Table.X, x)
	}
	sorted := append([]float64(nil), prog...)
	sort.Float64s(sorted)
	n := len(sorted)
	median := (sorted[(n-1)/2] + sorted[n/2]) / 2
	for _, p := range prog {
		d.Table.Y = append(d.Table.Y, b2f(p > median))
	}
	return d, nil
}
