package datasets

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WDBC is the Wisconsin Diagnostic Breast Cancer file.
var WDBC = struct{ File, MD5, URL string }{
	"wdbc.data", "c6dd5a2909808f3a901cf00cfd8dfff0",
	"https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic",
}

// WDBCFeatures are the 30 features: mean, standard error and worst of ten
// cell-nucleus measurements.
var WDBCFeatures = func() []string {
	base := []string{"radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity", "concave_points", "symmetry", "fractal_dimension"}
	var out []string
	for _, kind := range []string{"mean", "se", "worst"} {
		for _, b := range base {
			out = append(out, b+"_"+kind)
		}
	}
	return out
}()

// LoadWDBC loads wdbc.data from dir (the datasets root holding wdbc/, or the
// wdbc folder itself): 569 patients, 30 features, label malignant (M) = 1.
// It has no sites: split it with Federate (iid or dirichlet).
func LoadWDBC(dir string) (*Dataset, error) {
	if st, err := os.Stat(filepath.Join(dir, "wdbc")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "wdbc")
	}
	path := filepath.Join(dir, WDBC.File)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (download wdbc.data from %s, or run `fedledger datasets fetch wdbc`)", ErrNoData, path, err, WDBC.URL)
	}
	if sum := md5.Sum(raw); hex.EncodeToString(sum[:]) != WDBC.MD5 {
		return nil, fmt.Errorf("datasets: %s has MD5 %x, want %s: not the file UCI distributes; download it again", path, sum, WDBC.MD5)
	}
	d := &Dataset{Name: "wdbc", Features: WDBCFeatures, Positive: "M"}
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		cols := strings.Split(strings.TrimSpace(line), ",")
		if len(cols) != 32 {
			return nil, fmt.Errorf("datasets: %s line %d: %d columns, want 32", path, i+1, len(cols))
		}
		row := make([]float64, 30)
		for j := range row {
			v, err := strconv.ParseFloat(cols[j+2], 64)
			if err != nil {
				return nil, fmt.Errorf("datasets: %s line %d column %d: %q is not a number", path, i+1, j+3, cols[j+2])
			}
			row[j] = v
		}
		d.Table.X = append(d.Table.X, row)
		d.Table.Y = append(d.Table.Y, b2f(cols[1] == "M"))
	}
	return d, nil
}
