package bench

import (
	"fmt"
	"reflect"
	"testing"
)

// row is one seed's run of attack under rule: accuracy against clean
// FedAvg's 0.800, attackers flagged by round 5 of 3, honest flagged of 7.
func row(rule, attack string, acc float64, by5, honF int) AttackRow {
	r := AttackRow{Attack: attack, Rule: rule, Accuracy: acc, FedAvgClean: 0.8, FlaggedBy5: by5, MaliciousTotal: 3,
		HonestFlagged: honF, HonestTotal: 7}
	if attack == "none" {
		r.MaliciousTotal, r.HonestTotal = 0, 10
	}
	return r
}

// TestCriteria: each line holds or fails on hand-made rows, at its edge
// too, with the failing rows named; fedavg is not judged.
func TestCriteria(t *testing.T) {
	tests := []struct {
		name string
		rows []AttackRow
		want []Criterion
	}{{
		name: "every line holds, at its edges",
		rows: []AttackRow{
			row("huber", "none", 0.790, 0, 0), row("huber", "none", 0.790, 0, 0), // −0.010: inside 1 point
			row("huber", "sign-flip", 0.780, 3, 0), row("huber", "sign-flip", 0.780, 3, 0), // −0.020, 6 of 6
			row("huber", "on-off", 0.800, 0, 0), // evades, harmless
			{Attack: "label-flip", Rule: "huber", Accuracy: 0.8, FedAvgClean: 0.8, FlaggedBy5: 19, MaliciousTotal: 20,
				HonestFlagged: 1, HonestTotal: 100}, // 95 % flagged, 1 % of honest flagged
			row("fedavg", "none", 0.8, 0, 0), row("fedavg", "sign-flip", 0.1, 0, 0),
		},
		want: []Criterion{
			{"huber", "clean runs: no honest hospital flagged", true, "0 of 20 honest hospital-runs flagged"},
			{"huber", "clean runs: within 1 point of clean FedAvg", true, "-0.010"},
			{"huber", "attacked: within 2 points of clean FedAvg", true, "3 of 3 attacks"},
			{"huber", "attacked: at most 1 % of honest hospital-runs flagged", true, "3 of 3 attacks"},
			{"huber", "attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", true, "2 of 2 attacks"},
			{"huber", "attacked: attacks built to evade are flagged or harmless", true, "on-off 0 % flagged, +0.000"},
		},
	}, {
		name: "each line fails just past its edge",
		rows: []AttackRow{
			row("median", "none", 0.789, 0, 1),
			row("median", "label-flip", 0.779, 3, 0),
			row("median", "noise", 0.800, 2, 0), row("median", "noise", 0.800, 3, 0), // 5 of 6: 83 %
			row("median", "scale", 0.800, 3, 1), // 1 of 7 honest: over 1 %
			row("median", "adaptive", 0.700, 2, 0),
			row("median", "fang-apart", 0.700, 3, 0), // flagged: harm is not held against it
		},
		want: []Criterion{
			{"median", "clean runs: no honest hospital flagged", false, "1 of 10 honest hospital-runs flagged"},
			{"median", "clean runs: within 1 point of clean FedAvg", false, "-0.011"},
			{"median", "attacked: within 2 points of clean FedAvg", false,
				"2 of 5 attacks; fails: label-flip -0.021, adaptive -0.100, fang-apart -0.100"},
			{"median", "attacked: at most 1 % of honest hospital-runs flagged", false, "4 of 5 attacks; fails: scale 1 of 7"},
			{"median", "attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", false,
				"2 of 3 attacks; fails: noise 83 %"},
			{"median", "attacked: attacks built to evade are flagged or harmless", false,
				"adaptive 67 % flagged, -0.100 (evades and harms); fang-apart 100 % flagged, -0.100"},
		},
	}, {
		name: "no clean rows, no attacks: nothing to judge",
		rows: []AttackRow{row("huber", "sign-flip", 0.8, 3, 0)},
		want: []Criterion{
			{"huber", "attacked: within 2 points of clean FedAvg", true, "1 of 1 attacks"},
			{"huber", "attacked: at most 1 % of honest hospital-runs flagged", true, "1 of 1 attacks"},
			{"huber", "attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", true, "1 of 1 attacks"},
		},
	}, {
		name: "the yardstick's reach, once a seed, under the line",
		rows: []AttackRow{
			{Attack: "none", Rule: "huber", Seed: 1, Accuracy: 0.8, FedAvgClean: 0.8, HonestFedAvg: 0.77, HonestTotal: 10},
			{Attack: "noise", Rule: "huber", Seed: 1, Accuracy: 0.8, FedAvgClean: 0.8, HonestFedAvg: 0.77, FlaggedBy5: 3, MaliciousTotal: 3, HonestTotal: 7},
			{Attack: "noise", Rule: "huber", Seed: 2, Accuracy: 0.8, FedAvgClean: 0.8, HonestFedAvg: 0.79, FlaggedBy5: 3, MaliciousTotal: 3, HonestTotal: 7},
		},
		want: []Criterion{
			{"huber", "clean runs: no honest hospital flagged", true, "0 of 10 honest hospital-runs flagged"},
			{"huber", "clean runs: within 1 point of clean FedAvg", true, "+0.000"},
			{"huber", "attacked: within 2 points of clean FedAvg", true,
				"1 of 1 attacks; honest-only FedAvg -0.020"},
			{"huber", "attacked: at most 1 % of honest hospital-runs flagged", true, "1 of 1 attacks"},
			{"huber", "attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", true, "1 of 1 attacks"},
		},
	}, {
		name: "the yardstick under the line",
		rows: []AttackRow{
			{Attack: "noise", Rule: "huber", Seed: 1, Accuracy: 0.8, FedAvgClean: 0.8, HonestFedAvg: 0.779, FlaggedBy5: 3, MaliciousTotal: 3, HonestTotal: 7},
		},
		want: []Criterion{
			{"huber", "attacked: within 2 points of clean FedAvg", true,
				"1 of 1 attacks; honest-only FedAvg -0.021 (under the line itself: excluding exactly the attackers does not reach it)"},
			{"huber", "attacked: at most 1 % of honest hospital-runs flagged", true, "1 of 1 attacks"},
			{"huber", "attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", true, "1 of 1 attacks"},
		},
	}, {
		name: "fedavg alone",
		rows: []AttackRow{row("fedavg", "none", 0.8, 0, 0)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Criteria(tc.rows)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", dump(got), dump(tc.want))
			}
		})
	}
}

func dump(cs []Criterion) string {
	var s string
	for _, c := range cs {
		s += fmt.Sprintf("%+v\n", c)
	}
	return s
}

func ExampleFormatCriteria() {
	rows := []AttackRow{
		{Attack: "none", Rule: "huber", Accuracy: 0.81, FedAvgClean: 0.80, HonestTotal: 10},
		{Attack: "noise", Rule: "huber", Accuracy: 0.79, FedAvgClean: 0.80, FlaggedBy5: 1, MaliciousTotal: 3, HonestTotal: 7},
	}
	fmt.Print(FormatCriteria(Criteria(rows)))
	// Output:
	// Acceptance lines (docs/robustness.md), means over seeds:
	//   huber  holds    clean runs: no honest hospital flagged                                      0 of 10 honest hospital-runs flagged
	//   huber  holds    clean runs: within 1 point of clean FedAvg                                  +0.010
	//   huber  holds    attacked: within 2 points of clean FedAvg                                   1 of 1 attacks
	//   huber  holds    attacked: at most 1 % of honest hospital-runs flagged                       1 of 1 attacks
	//   huber  FAILS    attacked: 95 % of attackers flagged by round 5 (attacks not built to evade) 0 of 1 attacks; fails: noise 33 %
}
