package bench

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/datasets"
)

// TestAttacksHonestOnly: a short bench over the synthetic cohort gives a
// row per attack and the clean run, each carrying FedAvg over the honest
// hospitals alone, run once per seed and scored on every hospital's rows.
func TestAttacksHonestOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	cfg := AttackConfig{Source: datasets.Source{Dataset: "synthetic"}, Malicious: 1, Rounds: 2, Seeds: []uint64{7},
		Validators: 1, Attacks: []string{"sign-flip"}, Rules: []string{RobustRule}, Feedback: true, Out: &progress}
	rows, err := Attacks(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Attack != "none" || rows[1].Attack != "sign-flip" {
		t.Fatalf("rows %+v, want none and sign-flip", rows)
	}
	h := rows[0].HonestFedAvg
	if !(h > 0 && h <= 1) || rows[1].HonestFedAvg != h {
		t.Fatalf("honest-only accuracy %v and %v, want one value in (0, 1]", h, rows[1].HonestFedAvg)
	}
	if n := strings.Count(progress.String(), "honest only"); n != 1 {
		t.Fatalf("%d honest-only runs in the progress, want 1:\n%s", n, progress.String())
	}
	if !strings.Contains(progress.String(), "[4/4") {
		t.Fatalf("progress does not count 4 runs (clean fedavg, honest only, clean and attacked median):\n%s", progress.String())
	}
}

// csvRows are two rows as bench attacks writes them.
var csvRows = []AttackRow{
	{Attack: "none", Rule: "huber", Seed: 801, Accuracy: 0.75, CleanAccuracy: 0.75, FedAvgClean: 0.74, HonestTotal: 10, RoundsToFlag: -1,
		Flagged: "[]", HonestFedAvg: 0.73},
	{Attack: "sign-flip", Rule: "huber", Seed: 801, Accuracy: 0.7, CleanAccuracy: 0.75, FedAvgClean: 0.74, MaliciousFlagged: 3, FlaggedBy5: 2,
		MaliciousTotal: 3, HonestFlagged: 1, HonestTotal: 7, RoundsToFlag: 6,
		Flagged:      "[hospital-01@4(honest) hospital-08@2(malicious) hospital-09@2(malicious) hospital-10@6(malicious)]",
		HonestFedAvg: 0.73, HonestOnce: 1, MaliciousOnce: 2},
}

func csvOf(t testing.TB, rows []AttackRow) string {
	var b strings.Builder
	if err := WriteAttackCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReadAttackCSV: what WriteAttackCSV writes reads back as the same
// rows; every kind of bad file is refused with its line and what was
// wrong.
func TestReadAttackCSV(t *testing.T) {
	good := csvOf(t, csvRows)
	got, err := ReadAttackCSV(strings.NewReader(good))
	if err != nil || !reflect.DeepEqual(got, csvRows) {
		t.Fatalf("round trip: %v\n%+v", err, got)
	}
	lines := strings.Split(good, "\n")
	head, first, second := lines[0], lines[1], lines[2]
	bad := []struct{ name, file, want string }{
		{"empty", "", "empty file"},
		{"another header", "a,b\n", "line 1: "},
		{"a renamed column", strings.Replace(head, "seed", "seeds", 1) + "\n" + first + "\n", `line 1: header "attack,rule,seeds`},
		{"a short record", head + "\n" + first + "\nnone,huber,1\n", "record on line 3: wrong number of fields"},
		{"a seed", head + "\n" + strings.Replace(first, "801", "-1", 1) + "\n", `line 2: seed "-1"`},
		{"an accuracy", head + "\n" + strings.Replace(first, "0.750000", "1.5", 1) + "\n", `line 2: accuracy "1.5": want an accuracy from 0 to 1`},
		{"not a number", head + "\n" + strings.Replace(first, "0.750000", "NaN", 1) + "\n", `line 2: accuracy "NaN"`},
		{"a count", head + "\n" + first + "\n" + strings.Replace(second, ",7,6,", ",x,6,", 1) + "\n", `line 3: honest_total "x": want a count`},
		{"more flagged than there are", head + "\n" + strings.Replace(second, ",3,2,3,", ",3,2,2,", 1) + "\n", "line 2: flag counts 2 by round 5, 3 of 2 attackers"},
		{"no rule", head + "\n" + strings.Replace(first, "none,huber", "none,", 1) + "\n", "line 2: attack and rule must not be empty"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadAttackCSV(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) || rows != nil {
				t.Fatalf("got %v (%d rows), want an error with %q", err, len(rows), tc.want)
			}
		})
	}
}

// FuzzReadAttackCSV: any bytes are read or refused, never a panic, and
// rows that are read write out and read back the same.
func FuzzReadAttackCSV(f *testing.F) {
	good := csvOf(f, csvRows)
	f.Add(good)
	f.Add(strings.Replace(good, "0.700000", "1.000001", 1))
	f.Add(strings.Replace(good, ",-1,", ",-2,", 1))
	f.Add(strings.SplitAfter(good, "\n")[0])
	f.Add(good + "\"unterminated,")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := ReadAttackCSV(strings.NewReader(s))
		if err != nil {
			if rows != nil {
				t.Fatalf("error %v with %d rows", err, len(rows))
			}
			return
		}
		again, err := ReadAttackCSV(strings.NewReader(csvOf(t, rows)))
		if err != nil {
			t.Fatalf("rows read from %q do not read back: %v", s, err)
		}
		_ = Criteria(rows)
		_ = FormatAttackTable(rows)
		if len(again) != len(rows) {
			t.Fatalf("%d rows read back as %d", len(rows), len(again))
		}
	})
}
