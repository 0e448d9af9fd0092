package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataAnchoredTraining: the link between records and learning, through
// the commands a hospital and a researcher run. The hospital anchors the
// file of its training rows and grants the researcher research access to
// the dataset; the researcher's task with --data-scope refuses the
// hospital's trainer without the anchor (it fails on its first commit and
// says why) and trains with it, from a data folder that holds its own
// file only; task show says so.
func TestDataAnchoredTraining(t *testing.T) {
	data := testData(t)
	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	store := filepath.Join(t.TempDir(), "store")
	train := filepath.Join(data, "heart-disease", "processed.cleveland.data")
	code, out, errs := runIn(nil, "records", "put", "--home", key("cleveland"), "--node", rpc, "--store", store,
		"--id", "cleveland-training-rows", "--file", train, "--dataset", "heart", "--output", "json")
	var e struct {
		Leaf  []byte `json:"leaf"`
		Index uint64 `json:"index"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || len(e.Leaf) != 32 {
		t.Fatalf("records put: exit %d %s %s", code, out, errs)
	}
	anchor := fmt.Sprintf("%d:%x", e.Index, e.Leaf)
	if code, out, errs = runIn(nil, "records", "grant", "--home", key("cleveland"), "--node", rpc, "--grantee", "researcher",
		"--scope", "dataset:heart", "--purpose", "research"); code != 0 || !strings.Contains(out, "grant 1:") {
		t.Fatalf("records grant: exit %d %s %s", code, out, errs)
	}
	if code, out, errs = runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "1",
		"--data-scope", "heart", "--commit-window", "1000", "--reveal-window", "1000"); code != 0 {
		t.Fatalf("task create: exit %d %s %s", code, out, errs)
	}
	if code, out, _ = runIn(nil, "task", "show", "--node", rpc, "--task", "1"); code != 0 || !strings.Contains(out, `research grant over dataset "heart"`) {
		t.Errorf("task show does not say the task trains on anchored data:\n%s", out)
	}
	// The hospital's machine holds its own file only.
	own := filepath.Join(t.TempDir(), "data")
	raw, err := os.ReadFile(train)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(own, "heart-disease"), 0o755)
	os.WriteFile(filepath.Join(own, "heart-disease", filepath.Base(train)), raw, 0o644)
	trainArgs := []string{"train", "--home", key("cleveland"), "--node", rpc, "--data", own, "--task", "1"}
	if code, out, errs = runIn(nil, trainArgs...); code == 0 || !strings.Contains(out+errs, "anchored data") {
		t.Errorf("train without the anchor: exit %d, want a failure that says the task trains on anchored data: %s %s", code, out, errs)
	}
	if code, out, errs = runIn(nil, append(trainArgs, "--data-anchor", anchor, "--data-grant", "1")...); code != 0 || !strings.Contains(out, "committed") || !strings.Contains(out, "task 1 finished") {
		t.Fatalf("train with the anchor: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs = runIn(nil, append(trainArgs, "--data-anchor", "x", "--data-grant", "1")...); code != 2 {
		t.Errorf("a malformed --data-anchor: exit %d (%s), want 2", code, errs)
	}
}
