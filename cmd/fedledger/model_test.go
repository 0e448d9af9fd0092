package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelExportPredict: the demo's final model, exported with its proof,
// scores each hospital's test rows in predict to the accuracy the demo
// printed for that hospital; a model file whose weights or record were
// altered is refused before anything is scored.
func TestModelExportPredict(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	model, report := filepath.Join(dir, "model.json"), filepath.Join(dir, "report.json")
	code, out, errs := runIn(nil, "demo", "--data", data, "--rounds", "3", "--validators", "1", "--export-model", model, "--report", report)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Final struct {
			Accuracy  map[string]float64 `json:"accuracy"`
			ModelHash string             `json:"model_hash"`
		} `json:"final"`
	}
	bz, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(bz, &rep) != nil || len(rep.Final.Accuracy) != 4 {
		t.Fatalf("report: %v %s", err, bz)
	}
	for site, want := range rep.Final.Accuracy {
		code, out, errs := runIn(nil, "predict", "--model", model, "--data", data, "--site", site, "--output", "json")
		var got struct {
			Accuracy  float64 `json:"accuracy"`
			ModelHash string  `json:"model_hash"`
			Rows      int     `json:"rows"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("predict %s: exit %d %s %s", site, code, out, errs)
		}
		if fmt.Sprintf("%.3f", got.Accuracy) != fmt.Sprintf("%.3f", want) || got.ModelHash != rep.Final.ModelHash {
			t.Errorf("%s: predict says %.3f with model %s; the demo printed %.3f with %s", site, got.Accuracy, got.ModelHash, want, rep.Final.ModelHash)
		}
	}
	// Altered files: a weight, then the record itself.
	orig, _ := os.ReadFile(model)
	var f map[string]any
	json.Unmarshal(orig, &f)
	params := f["params"].([]any)
	params[0] = params[0].(float64) + 0.5
	altered, _ := json.Marshal(f)
	os.WriteFile(model, altered, 0o644)
	if code, _, errs := runIn(nil, "predict", "--model", model, "--data", data, "--site", "va"); code != 1 || !strings.Contains(errs, "params differ") {
		t.Errorf("a model file with an altered weight: exit %d, %s", code, errs)
	}
	json.Unmarshal(orig, &f)
	rec := []byte(f["record"].(string))
	rec[len(rec)/2] ^= 0x04 // still base64, other bytes
	f["record"] = string(rec)
	altered, _ = json.Marshal(f)
	os.WriteFile(model, altered, 0o644)
	if code, _, errs := runIn(nil, "predict", "--model", model, "--data", data, "--site", "va"); code != 1 || !strings.Contains(errs, "does not check") {
		t.Errorf("a model file with an altered record: exit %d, %s", code, errs)
	}
}
