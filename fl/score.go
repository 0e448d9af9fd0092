package fl

import (
	"math"
	"sort"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Scores are a model's scores on labelled rows.
type Scores struct {
	Metrics
	// AUC is the area under the ROC curve (ties count half); NaN when the
	// rows hold one class only.
	AUC float64 `json:"auc"`
	// Calibration bins the predicted probabilities in tenths.
	Calibration []CalibrationBin `json:"calibration"`
}

// CalibrationBin is one tenth of the predicted probabilities.
type CalibrationBin struct {
	Lo, Hi        float64
	N             int
	MeanPredicted float64 `json:"mean_predicted"`
	FracPositive  float64 `json:"fraction_positive"`
}

// Predict is the model's probability of the positive class for each row.
func Predict(spec pb.ModelSpec, params []float64, t datasets.Table) []float64 {
	p := make([]float64, t.Len())
	for i, x := range t.X {
		p[i] = 1 / (1 + math.Exp(-Logit(spec, params, x)))
	}
	return p
}

// Score scores the model on t: accuracy and loss (as Evaluate), AUC and
// a calibration table.
func Score(spec pb.ModelSpec, params []float64, t datasets.Table) (Scores, error) {
	m, err := Evaluate(spec, params, t)
	if err != nil {
		return Scores{}, err
	}
	s := Scores{Metrics: m, AUC: auc(Predict(spec, params, t), t.Y)}
	p := Predict(spec, params, t)
	for b := 0; b < 10; b++ {
		bin := CalibrationBin{Lo: float64(b) / 10, Hi: float64(b+1) / 10}
		var pos float64
		for i, v := range p {
			if (v >= bin.Lo && v < bin.Hi) || (b == 9 && v == 1) {
				bin.N++
				bin.MeanPredicted += v
				pos += t.Y[i]
			}
		}
		if bin.N > 0 {
			bin.MeanPredicted /= float64(bin.N)
			bin.FracPositive = pos / float64(bin.N)
		}
		s.Calibration = append(s.Calibration, bin)
	}
	return s, nil
}

// auc is the Mann-Whitney statistic of the scores of positives over
// negatives.
func auc(p, y []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var rankSum, npos, nneg float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += rank
				npos++
			} else {
				nneg++
			}
		}
		i = j
	}
	if npos == 0 || nneg == 0 {
		return math.NaN()
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg)
}
