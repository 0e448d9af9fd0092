package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCSVSchemaTraining: a hospital trains from its own CSV that holds a
// text column and a free-text column, through a task that declares the
// schema (label, columns in order, a categorical column's levels): the
// trainer reads the file the task's way and finishes; task show prints
// the schema; the exported model carries it, and predict reads the same
// file with it. Without the schema the file is refused with a message
// that says what to do.
func TestCSVSchemaTraining(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	csv := writeHeartCSV(t, data, "cleveland", filepath.Join(dir, "cleveland.csv"))
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(heartSchema), 0o644)

	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	if code, out, errs := runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "1", "--inputs", "4"); code != 0 {
		t.Fatalf("task create: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := runIn(nil, "train", "--home", key("cleveland"), "--node", rpc, "--dataset", "csv:"+csv, "--label", "target", "--task", "1"); code == 0 || !strings.Contains(errs, "declare it categorical") {
		t.Errorf("the CSV for a task without a schema: exit %d, %s", code, errs)
	}
	if code, out, errs := runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "2",
		"--schema", schema, "--commit-window", "1000", "--reveal-window", "1000"); code != 0 {
		t.Fatalf("task create: exit %d %s %s", code, out, errs)
	}
	if code, out, _ := runIn(nil, "task", "show", "--node", rpc, "--task", "2"); code != 0 || !strings.Contains(out, "schema: label target, inputs age, sex{female|male}, chol") || !strings.Contains(out, "logreg(4)") {
		t.Errorf("task show:\n%s", out)
	}
	code, out, errs := runIn(nil, "train", "--home", key("cleveland"), "--node", rpc, "--dataset", "csv:"+csv, "--task", "2")
	if code != 0 || !strings.Contains(out, "task 2 finished") {
		t.Fatalf("train with the task's schema: exit %d\n%s\n%s", code, out, errs)
	}
	model := filepath.Join(dir, "model.json")
	if code, out, errs := runIn(nil, "model", "export", "--node", rpc, "--task", "2", "--out", model); code != 0 {
		t.Fatalf("model export: %d %s %s", code, out, errs)
	}
	if code, out, errs := runIn(nil, "predict", "--model", model, "--dataset", "csv:"+csv); code != 0 || !strings.Contains(out, "accuracy") {
		t.Errorf("predict on the CSV with the model's schema: exit %d\n%s\n%s", code, out, errs)
	}
}
