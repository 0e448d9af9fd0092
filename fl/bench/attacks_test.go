package bench

import (
	"bytes"
	"context"
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
