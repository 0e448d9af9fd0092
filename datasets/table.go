package datasets

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/stat"
)

// EnvData is the environment variable that names the data directory.
const EnvData = "FEDLEDGER_DATA"

// ErrNoData means the data files are not where the caller pointed.
var ErrNoData = errors.New("datasets: data not found")

// Table is a feature matrix with binary labels.
type Table struct {
	X [][]float64
	Y []float64 // 0 or 1
}

// Len is the number of rows.
func (t Table) Len() int { return len(t.Y) }

// Positives counts the rows labelled 1.
func (t Table) Positives() int {
	n := 0
	for _, y := range t.Y {
		if y == 1 {
			n++
		}
	}
	return n
}

// Hospital is one site's data.
type Hospital struct {
	Name  string
	Train Table
	Test  Table
}

// Federation is the data of every hospital of a task.
type Federation struct {
	Name      string   // e.g. "heart-disease"
	Features  []string // column names, in order
	Hospitals []Hospital
	Synthetic bool // true when generated rather than loaded
}

// NumFeatures is the width of every row.
func (f *Federation) NumFeatures() int { return len(f.Features) }

// Standardize z-scores train and test with the training mean and population
// standard deviation of each column (a constant column is only centred).
func Standardize(train, test Table) {
	standardizeWith(train, Table{X: append(append([][]float64(nil), train.X...), test.X...)})
}

// standardizeWith computes the statistics on stats and applies them to
// every row of apply (rows are shared slices, so this scales them in place).
func standardizeWith(train, apply Table) {
	if len(train.X) == 0 {
		return
	}
	d := len(train.X[0])
	mean := make([]float64, d)
	std := make([]float64, d)
	col := make([]float64, len(train.X))
	for j := 0; j < d; j++ {
		for i, row := range train.X {
			col[i] = row[j]
		}
		mean[j], std[j] = stat.PopMeanStdDev(col, nil)
		if std[j] == 0 || math.IsNaN(std[j]) {
			std[j] = 1
		}
	}
	for _, row := range apply.X {
		for j := range row {
			row[j] = (row[j] - mean[j]) / std[j]
		}
	}
}

// FindDir returns the data directory to use: dir if given, else
// $FEDLEDGER_DATA, else a shared/datasets folder beside the working
// directory or one of its parents (the layout of a fedledger checkout next to
// its shared data). It returns "" when none exists.
func FindDir(dir string) string {
	if dir != "" {
		return dir
	}
	if env := os.Getenv(EnvData); env != "" {
		return env
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for p := wd; ; p = filepath.Dir(p) {
		cand := filepath.Join(p, "shared", "datasets")
		if st, err := os.Stat(filepath.Join(cand, "heart-disease")); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(p) == p {
			return ""
		}
	}
}

func describe(t Table) string {
	return fmt.Sprintf("%d rows (%d positive)", t.Len(), t.Positives())
}
