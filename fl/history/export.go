package history

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"task", "round", "phase", "closed_height", "outcome", "aggregated", "input_model_hash", "output_model_hash",
	"hospital", "committed", "samples", "accuracy", "loss", "commit_height", "revealed", "reveal_height", "rule_weight",
	"reputation_delta", "reputation_score", "flagged", "reasons"}

// WriteCSV writes one row per round and hospital (every hospital that
// committed or whose reputation moved), in round order and, within a round,
// in hospital-name order. Accuracy and loss are the hospital's metrics of
// the round's input model; an empty cell means "not applicable" (no
// commitment, no reveal, no reputation change).
func WriteCSV(w io.Writer, h *History) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range h.Rounds {
		subs := map[string]Submission{}
		reps := map[string]ReputationChange{}
		var hosp []string
		for _, s := range r.Submissions {
			subs[s.Hospital] = s
			hosp = append(hosp, s.Hospital)
		}
		for _, c := range r.Reputation {
			if _, ok := subs[c.Hospital]; !ok {
				hosp = append(hosp, c.Hospital)
			}
			reps[c.Hospital] = c
		}
		sort.Strings(hosp)
		for _, name := range hosp {
			row := []string{u(h.Task.ID), u(uint64(r.Round)), r.Phase, i(r.Closed), r.Outcome, u(uint64(r.Aggregated)), r.InputModel, r.OutputModel, name}
			if s, ok := subs[name]; ok {
				row = append(row, "true", u(s.Samples), f(s.Accuracy), f(s.Loss), i(s.CommitHeight), strconv.FormatBool(s.Revealed), "", "")
				if s.Revealed {
					row[len(row)-2] = i(s.RevealHeight)
				}
				if s.Weight != nil {
					row[len(row)-1] = u(*s.Weight)
				}
			} else {
				row = append(row, "false", "", "", "", "", "", "", "")
			}
			if c, ok := reps[name]; ok {
				row = append(row, f(c.Delta), f(c.Score), strconv.FormatBool(c.Flagged), strings.Join(c.Reasons, "; "))
			} else {
				row = append(row, "", "", "", "")
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }
func i(v int64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}
func f(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

// Series is one line of a chart: a value per model round.
type Series struct {
	Name   string
	Rounds []uint32 // x: the model round (0 is the initial model)
	Values []float64
}

// AccuracySeries is each hospital's reported test accuracy per model round
// (a round's submissions score its input model, the model of the round
// before; the final reports score the task's last model), then their mean
// as the last series, named "mean". Hospitals are in name order.
func (h *History) AccuracySeries() []Series {
	return h.metricSeries(func(s Submission) float64 { return s.Accuracy }, true)
}

// LossSeries is AccuracySeries for the reported loss (no final reports).
func (h *History) LossSeries() []Series {
	return h.metricSeries(func(s Submission) float64 { return s.Loss }, false)
}

func (h *History) metricSeries(val func(Submission) float64, final bool) []Series {
	by := map[string]*Series{}
	mean := &Series{Name: "mean"}
	add := func(name string, x uint32, v float64) {
		s := by[name]
		if s == nil {
			s = &Series{Name: name}
			by[name] = s
		}
		s.Rounds = append(s.Rounds, x)
		s.Values = append(s.Values, v)
	}
	for _, r := range h.Rounds {
		if len(r.Submissions) == 0 {
			continue
		}
		sum := 0.0
		for _, s := range r.Submissions {
			add(s.Hospital, r.Round-1, val(s))
			sum += val(s)
		}
		mean.Rounds = append(mean.Rounds, r.Round-1)
		mean.Values = append(mean.Values, sum/float64(len(r.Submissions)))
	}
	if fin := h.Task.Final; final && fin != nil {
		for name, a := range fin.Accuracy {
			add(name, h.Task.ModelRound, a)
		}
		mean.Rounds = append(mean.Rounds, h.Task.ModelRound)
		mean.Values = append(mean.Values, fin.MeanAccuracy)
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Series, 0, len(names)+1)
	for _, n := range names {
		out = append(out, *by[n])
	}
	if len(mean.Rounds) > 0 {
		out = append(out, *mean)
	}
	return out
}

// ReputationSeries is each hospital's reputation score after each round in
// which it moved, in hospital-name order; a task without reputation has none.
func (h *History) ReputationSeries() []Series {
	by := map[string]*Series{}
	for _, r := range h.Rounds {
		for _, c := range r.Reputation {
			s := by[c.Hospital]
			if s == nil {
				s = &Series{Name: c.Hospital}
				by[c.Hospital] = s
			}
			s.Rounds = append(s.Rounds, r.Round)
			s.Values = append(s.Values, c.Score)
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Series, 0, len(names))
	for _, n := range names {
		out = append(out, *by[n])
	}
	return out
}

// String is a one-line summary, for logs.
func (h *History) String() string {
	return fmt.Sprintf("task %d %q: %s, %d rounds", h.Task.ID, h.Task.Name, h.Task.Status, len(h.Rounds))
}
