package bench

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fedledger/fedledger/fl/sim"
)

// TestSeedStats: per-seed means over hospitals, their mean, sd and t
// interval, and the paired difference to fedavg, on hand-computed rows.
func TestSeedStats(t *testing.T) {
	var rows []Row
	add := func(m string, seed uint64, accs ...float64) {
		for i, a := range accs {
			rows = append(rows, Row{Method: m, Seed: seed, Hospital: []string{"a", "b"}[i], Accuracy: a})
		}
	}
	add("fedavg", 1, 0.6, 0.8) // seed means 0.7, 0.8, 0.9
	add("fedavg", 2, 0.7, 0.9)
	add("fedavg", 3, 0.8, 1.0)
	add("x", 1, 0.7, 0.9) // fedavg + 0.1 on every seed
	add("x", 2, 0.8, 1.0)
	add("x", 3, 0.9, 1.1)
	st := SeedStats(rows)
	if len(st) != 2 || st[0].Method != "fedavg" || st[0].DiffFedAvg != nil {
		t.Fatalf("%+v", st)
	}
	f := st[0]
	half := 4.303 * 0.1 / math.Sqrt(3) // sd of 0.7, 0.8, 0.9 is 0.1; t(2) = 4.303
	if math.Abs(f.Mean-0.8) > 1e-12 || math.Abs(f.SD-0.1) > 1e-12 || math.Abs(f.Lo-(0.8-half)) > 1e-12 || math.Abs(f.Hi-(0.8+half)) > 1e-12 {
		t.Errorf("fedavg: %+v", f)
	}
	d := st[1].DiffFedAvg
	if d == nil || math.Abs(d.Mean-0.1) > 1e-12 || math.Abs(d.Lo-0.1) > 1e-12 || math.Abs(d.Hi-0.1) > 1e-12 {
		t.Errorf("paired difference: %+v", d)
	}
	if out := FormatSeedStats(st); !strings.Contains(out, "+0.100 [0.100, 0.100]") {
		t.Errorf("table:\n%s", out)
	}
}

// TestAttackRow: a run's flags become counts against the attackers, by
// round 5, and the honest hospitals; a clean run has no attackers to count.
func TestAttackRow(t *testing.T) {
	rep := &sim.Report{Malicious: map[string]string{"h8": "sign-flip", "h9": "sign-flip"},
		Flagged:     map[string]uint32{"h9": 3, "h8": 7, "h1": 2},
		CountedOnce: map[string]int{"h9": 4, "h8": 1, "h2": 2}}
	rep.Final.MeanAccuracy = 0.7
	clean, fa := &sim.Report{}, &sim.Report{}
	clean.Final.MeanAccuracy, fa.Final.MeanAccuracy = 0.8, 0.82
	got := attackRow("sign-flip", "median", 42, rep, clean, fa, 10)
	want := AttackRow{Attack: "sign-flip", Rule: "median", Seed: 42, Accuracy: 0.7, CleanAccuracy: 0.8, FedAvgClean: 0.82,
		MaliciousFlagged: 2, FlaggedBy5: 1, MaliciousTotal: 2, HonestFlagged: 1, HonestTotal: 8, RoundsToFlag: 7,
		Flagged: "[h1@2(honest) h8@7(malicious) h9@3(malicious)]", HonestOnce: 2, MaliciousOnce: 5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("row\n%+v, want\n%+v", got, want)
	}
	none := attackRow("none", "median", 42, clean, clean, fa, 10)
	if none.RoundsToFlag != -1 || none.HonestTotal != 10 || none.MaliciousTotal != 0 {
		t.Fatalf("clean row %+v", none)
	}
	got.HonestFedAvg = 0.75
	table := FormatAttackTable([]AttackRow{got, got})
	if !strings.Contains(table, "2/4 (50%)") || !strings.Contains(table, "4/4 (100%)") || !strings.Contains(table, "2/16 (12%)") ||
		!strings.Contains(table, "-0.120 [-0.120, -0.120]   -0.050 [-0.050, -0.050]") || !strings.HasSuffix(table, " 4/10\n") {
		t.Fatalf("table:\n%s", table)
	}
}
