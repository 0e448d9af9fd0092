package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/fl/history"
)

// TestTaskCancel: the researcher cancels a task a trainer is working on;
// the trainer stops, says who cancelled it and why, and exits 0; task show
// says it too; a hospital may not cancel.
func TestTaskCancel(t *testing.T) {
	data := testData(t)
	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	// A task that cannot end on its own soon: a second round waits for
	// commitments for 100,000 blocks.
	if code, out, errs := runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "50", "--commit-window", "100000", "--reveal-window", "100000"); code != 0 {
		t.Fatalf("task create: %s %s", out, errs)
	}
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(context.Background(), []string{"train", "--home", key("cleveland"), "--node", rpc, "--data", data, "--task", "1"}, &out, &out)
	}()
	for i := 0; i < 200 && !strings.Contains(out.String(), "committed"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, errs := runIn(nil, "task", "cancel", "--home", key("cleveland"), "--node", rpc, "--task", "1", "--reason", "mine"); code != 1 || !strings.Contains(errs, "creator or an admin") {
		t.Errorf("a hospital cancels: exit %d, %s", code, errs)
	}
	if code, o, errs := runIn(nil, "task", "cancel", "--home", key("researcher"), "--node", rpc, "--task", "1", "--reason", "wrong model size"); code != 0 {
		t.Fatalf("task cancel: exit %d %s %s", code, o, errs)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "cancelled by researcher") || !strings.Contains(out.String(), "wrong model size") {
			t.Errorf("the trainer: exit %d\n%s", code, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the trainer did not stop after the cancellation:\n%s", out.String())
	}
	if code, o, _ := runIn(nil, "task", "show", "--node", rpc, "--task", "1"); code != 0 || !strings.Contains(o, "cancelled by researcher") {
		t.Errorf("task show:\n%s", o)
	}
}

// TestRoundsFollow: rounds list --follow prints each round as it closes
// (JSON: one object per line) and returns when the task ends.
func TestRoundsFollow(t *testing.T) {
	data := testData(t)
	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	if code, out, errs := runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "3", "--commit-window", "1000", "--reveal-window", "1000"); code != 0 {
		t.Fatalf("task create: %s %s", out, errs)
	}
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(context.Background(), []string{"rounds", "list", "--node", rpc, "--task", "1", "--follow", "--output", "json"}, &out, &errb)
	}()
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(out.String(), `"round"`) {
		t.Errorf("a round listed before any closed: %s", out.String())
	}
	if code, o, errs := runIn(nil, "train", "--home", key("cleveland"), "--node", rpc, "--data", data, "--task", "1"); code != 0 {
		t.Fatalf("train: %s %s", o, errs)
	}
	select {
	case code := <-done:
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if code != 0 || len(lines) != 3 || !strings.Contains(lines[2], `"round":3`) {
			t.Errorf("rounds list --follow: exit %d\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("rounds list --follow did not return when the task ended:\n%s", out.String())
	}
	// The final model's metrics are on chain: the hospital reported them,
	// and they are what predict computes with the exported model.
	var task struct {
		Final struct {
			Accuracy map[string]float64 `json:"accuracy"`
		} `json:"final"`
	}
	if code, o, _ := runIn(nil, "task", "show", "--node", rpc, "--task", "1", "--output", "json"); code != 0 || json.Unmarshal([]byte(o), &task) != nil || len(task.Final.Accuracy) != 1 {
		t.Fatalf("task show: the final model's metrics are not on chain:\n%s", o)
	}
	model := filepath.Join(t.TempDir(), "model.json")
	if code, o, errs := runIn(nil, "model", "export", "--node", rpc, "--task", "1", "--out", model); code != 0 {
		t.Fatalf("model export: %s %s", o, errs)
	}
	var pred struct {
		Accuracy float64 `json:"accuracy"`
	}
	if code, o, _ := runIn(nil, "predict", "--model", model, "--data", data, "--site", "cleveland", "--output", "json"); code != 0 || json.Unmarshal([]byte(o), &pred) != nil || math.Abs(pred.Accuracy-task.Final.Accuracy["cleveland"]) > 1e-6 {
		t.Errorf("predict says %.6f, the chain's final metrics %.6f", pred.Accuracy, task.Final.Accuracy["cleveland"])
	}
	if code, o, _ := runIn(nil, "rounds", "list", "--node", rpc, "--task", "1"); code != 0 || !strings.Contains(o, "final model (round 3): mean local test accuracy") {
		t.Errorf("rounds list:\n%s", o)
	}
	// The history as a chart and as CSV and JSON: a row per round (one
	// hospital), the final accuracy the chain holds.
	dir := t.TempDir()
	for _, metric := range []string{"accuracy", "loss"} {
		file := filepath.Join(dir, metric+".png")
		if code, o, errs := runIn(nil, "rounds", "plot", "--node", rpc, "--task", "1", "--metric", metric, "--out", file); code != 0 {
			t.Fatalf("rounds plot: %s %s", o, errs)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 400 || cfg.Height < 200 {
			t.Errorf("rounds plot --metric %s: not a chart-sized PNG: %v %+v", metric, err, cfg)
		}
	}
	if code, _, errs := runIn(nil, "rounds", "plot", "--node", rpc, "--task", "1", "--metric", "reputation", "--out", filepath.Join(dir, "r.png")); code != 1 || !strings.Contains(errs, "no reputation to plot") {
		t.Errorf("rounds plot of a task without reputation: exit %d, %s", code, errs)
	}
	if code, _, errs := runIn(nil, "rounds", "plot", "--node", rpc, "--task", "1", "--out", filepath.Join(dir, "a.gif")); code != 2 || !strings.Contains(errs, ".png, .svg or .pdf") {
		t.Errorf("rounds plot --out a.gif: exit %d, %s", code, errs)
	}
	code, o, errs := runIn(nil, "rounds", "export", "--node", rpc, "--task", "1")
	rows, err := csv.NewReader(strings.NewReader(o)).ReadAll()
	if code != 0 || err != nil || len(rows) != 4 || rows[3][1] != "3" || rows[3][8] != "cleveland" || rows[3][14] != "true" {
		t.Errorf("rounds export (CSV): exit %d %v %s\n%s", code, err, errs, o)
	}
	var h history.History
	if code, o, _ := runIn(nil, "rounds", "export", "--node", rpc, "--task", "1", "--output", "json"); code != 0 || json.Unmarshal([]byte(o), &h) != nil ||
		len(h.Rounds) != 3 || h.Task.Final == nil || h.Task.Final.Accuracy["cleveland"] != task.Final.Accuracy["cleveland"] {
		t.Errorf("rounds export --output json:\n%s", o)
	}
}
