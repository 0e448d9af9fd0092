package gateway

import (
	"math"
	"testing"
)

// TestNEWS2 checks the score bands against the RCP's NEWS2 chart
// (respiration, SpO2 scale 1, pulse).
func TestNEWS2(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		hr, resp, spo2 float64
		score          int
		red            bool
	}{
		{70, 16, 97, 0, false},
		{51, 12, 96, 0, false},
		{50, 11, 95, 3, false}, // 1 + 1 + 1
		{91, 21, 93, 5, false}, // 1 + 2 + 2
		{111, 24, 92, 6, false},
		{131, 16, 97, 3, true},
		{40, 16, 97, 3, true},
		{70, 8, 97, 3, true},
		{70, 25, 97, 3, true},
		{70, 16, 91, 3, true},
		{nan, nan, nan, 0, false},
		{nan, 8, nan, 3, true},
	} {
		score, red := news2(c.hr, c.resp, c.spo2)
		if score != c.score || red != c.red {
			t.Errorf("news2(hr %v, resp %v, spo2 %v) = %d %v; want %d %v", c.hr, c.resp, c.spo2, score, red, c.score, c.red)
		}
	}
}

// TestWindowsOf: a stay of 200 minutes with a red SpO2 from minute 150 on
// gives rows every Step minutes; the ones whose next hour holds minute 150
// are positive; the split is temporal, with no row across the cut.
func TestWindowsOf(t *testing.T) {
	m := map[int64]*minute{}
	for i := int64(0); i < 200; i++ {
		spo2 := 97.0
		if i >= 150 {
			spo2 = 88
		}
		if i%7 == 2 {
			continue // a missing minute carries the last values forward
		}
		m[1000+i] = &minute{70, 16, spo2}
	}
	opts := WindowOptions{Window: 30, Horizon: 60, Step: 10, TrainShare: 0.5}
	train, test := windowsOf(m, opts)
	// Starts 0, 10, …, 110 (start+90 ≤ 200). Train: start+90 ≤ 100 → start 0, 10.
	// Test: start ≥ 100 → 100, 110.
	if train.Len() != 2 || test.Len() != 2 {
		t.Fatalf("%d train, %d test rows", train.Len(), test.Len())
	}
	if train.Positives() != 0 || test.Positives() != 2 {
		t.Errorf("positives: train %d, test %d", train.Positives(), test.Positives())
	}
	if len(train.X[0]) != len(WindowFeatures) || train.X[0][0] != 70 || train.X[0][9] != 97 {
		t.Errorf("row: %v", train.X[0])
	}
}
