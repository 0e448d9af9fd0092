package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fedledger/fedledger/aggregator"
)

// TestBenchAggregateSaysKernel: bench aggregate says whether median,
// trimmed_mean and huber sorted by network or selected, in text and in JSON, so that a
// figure can be read for what it measured: past 128 updates they select on
// any CPU.
func TestBenchAggregateSaysKernel(t *testing.T) {
	few := "selection" // on a CPU without AVX2
	if aggregator.SortsByNetwork(3) {
		few = "sorting network"
	}
	for _, tc := range []struct {
		updates string
		want    string
	}{{"200", "selection"}, {"3", few}} {
		code, out, errs := runIn(nil, "bench", "aggregate", "--params", "100", "--updates", tc.updates, "--reps", "1", "--rules", "huber")
		if code != 0 || !strings.Contains(out, "median, trimmed_mean and huber by "+tc.want+"\n") {
			t.Errorf("--updates %s: exit %d, output %q, %s; want it to say %q", tc.updates, code, out, errs, tc.want)
		}
		code, out, errs = runIn(nil, "bench", "aggregate", "--params", "100", "--updates", tc.updates, "--reps", "1", "--rules", "huber", "--output", "json")
		var res struct {
			Kernel string `json:"kernel"`
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Kernel != tc.want {
			t.Errorf("--updates %s --output json: exit %d, %v, kernel %q, %s; want %q", tc.updates, code, err, res.Kernel, errs, tc.want)
		}
	}
}
