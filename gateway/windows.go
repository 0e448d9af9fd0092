package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/fedledger/fedledger/datasets"
)

// An early-warning table: from a gateway's stored readings, windows of each
// patient's vital signs and, as the label, whether the patient's NEWS2
// score (Royal College of Physicians, 2017: the UK's National Early
// Warning Score) reaches a "red" single-parameter score of 3 in the hour
// after the window. The thresholds are NEWS2's own, not fitted to any
// data. The parameters scored are the ones bedside monitors stream: heart
// rate, respiration and SpO2 (scale 1).

// WindowOptions shape the windows, in minutes.
type WindowOptions struct {
	Window  int // minutes of vital signs a row summarises
	Horizon int // minutes after the window its label looks at
	Step    int // minutes between windows of a patient
	// TrainShare of each patient's minutes (the earlier ones) give the
	// training rows; windows whose horizon ends in the rest give the test
	// rows (a temporal split: no test window overlaps a training one).
	TrainShare float64
}

// DefaultWindowOptions: 30-minute windows every 5 minutes, labelled by the
// next 60 minutes, the first 70 % of each stay for training.
func DefaultWindowOptions() WindowOptions {
	return WindowOptions{Window: 30, Horizon: 60, Step: 5, TrainShare: 0.7}
}

// WindowFeatures name the columns of a window table.
var WindowFeatures = []string{
	"hr_mean", "hr_min", "hr_max", "hr_last",
	"resp_mean", "resp_min", "resp_max", "resp_last",
	"spo2_mean", "spo2_min", "spo2_last",
	"news2_max",
}

// news2 is the NEWS2 score of one minute's heart rate, respiration and
// SpO2 (scale 1), and whether one of them scores 3 (a red score). A
// missing value (NaN) scores 0.
func news2(hr, resp, spo2 float64) (score int, red bool) {
	add := func(s int) {
		score += s
		red = red || s == 3
	}
	switch {
	case math.IsNaN(resp):
	case resp <= 8:
		add(3)
	case resp <= 11:
		add(1)
	case resp <= 20:
	case resp <= 24:
		add(2)
	default:
		add(3)
	}
	switch {
	case math.IsNaN(spo2):
	case spo2 <= 91:
		add(3)
	case spo2 <= 93:
		add(2)
	case spo2 <= 95:
		add(1)
	}
	switch {
	case math.IsNaN(hr):
	case hr <= 40:
		add(3)
	case hr <= 50:
		add(1)
	case hr <= 90:
	case hr <= 110:
		add(1)
	case hr <= 130:
		add(2)
	default:
		add(3)
	}
	return score, red
}

// minute is one minute of a patient's vital signs (NaN: none that minute).
type minute struct{ hr, resp, spo2 float64 }

// Windows turns every stored reading into early-warning rows, train and
// test (see WindowOptions). Minutes without a value carry the last one
// forward (as a monitor's display does); a window with a vital sign never
// seen yet is skipped.
func (s *Store) Windows(opts WindowOptions) (train, test datasets.Table, err error) {
	if opts.Window < 1 || opts.Horizon < 1 || opts.Step < 1 || !(opts.TrainShare > 0 && opts.TrainShare < 1) {
		return train, test, fmt.Errorf("gateway: windows: %+v: want positive minutes and a train share in (0, 1)", opts)
	}
	series := map[string]map[int64]*minute{} // patient → unix minute → values
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("r/"), UpperBound: []byte("r0")})
	if err != nil {
		return train, test, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		var st Stored
		if err := json.Unmarshal(it.Value(), &st); err != nil {
			it.Close()
			return train, test, fmt.Errorf("gateway: stored reading: %w", err)
		}
		if st.Value == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, st.Time)
		if err != nil {
			continue
		}
		m := series[st.Patient]
		if m == nil {
			m = map[int64]*minute{}
			series[st.Patient] = m
		}
		k := t.Unix() / 60
		v := m[k]
		if v == nil {
			v = &minute{math.NaN(), math.NaN(), math.NaN()}
			m[k] = v
		}
		switch st.Code {
		case "8867-4":
			v.hr = *st.Value
		case "9279-1":
			v.resp = *st.Value
		case "59408-5", "2708-6":
			v.spo2 = *st.Value
		}
	}
	if err := it.Close(); err != nil {
		return train, test, err
	}
	patients := make([]string, 0, len(series))
	for p := range series {
		patients = append(patients, p)
	}
	sort.Strings(patients)
	for _, p := range patients {
		tr, te := windowsOf(series[p], opts)
		train.X, train.Y = append(train.X, tr.X...), append(train.Y, tr.Y...)
		test.X, test.Y = append(test.X, te.X...), append(test.Y, te.Y...)
	}
	return train, test, nil
}

// windowsOf makes one patient's rows.
func windowsOf(m map[int64]*minute, opts WindowOptions) (train, test datasets.Table) {
	var first, last int64 = math.MaxInt64, math.MinInt64
	for k := range m {
		first, last = min(first, k), max(last, k)
	}
	n := int(last - first + 1)
	mins := make([]minute, n)
	cur := minute{math.NaN(), math.NaN(), math.NaN()}
	for i := range mins {
		if v := m[first+int64(i)]; v != nil {
			if !math.IsNaN(v.hr) {
				cur.hr = v.hr
			}
			if !math.IsNaN(v.resp) {
				cur.resp = v.resp
			}
			if !math.IsNaN(v.spo2) {
				cur.spo2 = v.spo2
			}
		}
		mins[i] = cur
	}
	cut := int(float64(n) * opts.TrainShare)
	for start := 0; start+opts.Window+opts.Horizon <= n; start += opts.Step {
		end := start + opts.Window // window [start, end), horizon [end, end+Horizon)
		var hr, resp, spo2 []float64
		worst := 0
		for _, v := range mins[start:end] {
			hr, resp, spo2 = append(hr, v.hr), append(resp, v.resp), append(spo2, v.spo2)
			sc, _ := news2(v.hr, v.resp, v.spo2)
			worst = max(worst, sc)
		}
		if math.IsNaN(hr[0]) || math.IsNaN(resp[0]) || math.IsNaN(spo2[0]) {
			continue
		}
		y := 0.0
		for _, v := range mins[end : end+opts.Horizon] {
			if _, red := news2(v.hr, v.resp, v.spo2); red {
				y = 1
				break
			}
		}
		x := []float64{mean(hr), minOf(hr), maxOf(hr), hr[len(hr)-1],
			mean(resp), minOf(resp), maxOf(resp), resp[len(resp)-1],
			mean(spo2), minOf(spo2), spo2[len(spo2)-1], float64(worst)}
		switch {
		case end+opts.Horizon <= cut:
			train.X, train.Y = append(train.X, x), append(train.Y, y)
		case start >= cut:
			test.X, test.Y = append(test.X, x), append(test.Y, y)
		}
	}
	return train, test
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
