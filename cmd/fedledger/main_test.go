package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedledger/fedledger/fl/bench"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestCLIErrors: bad command lines get one clear line and exit 2; help exits 0.
func TestCLIErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 0, "Commands:"},
		{[]string{"help"}, 0, "demo"},
		{[]string{"demo", "--help"}, 0, "Examples:"},
		{[]string{"help", "demo"}, 0, "--data ../shared/datasets"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"demo", "--rounds", "x"}, 2, `invalid argument "x" for "--rounds" flag`},
		{[]string{"demo", "--rounds", "0"}, 2, "--rounds 0: want at least 1"},
		{[]string{"demo", "--validators", "0"}, 2, "--validators 0"},
		{[]string{"demo", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"demo", "--report", "/no/such/dir/r.json"}, 2, "folder /no/such/dir does not exist"},
		{[]string{"demo", "--data", "/no/such/data"}, 1, "data not found"},
		{[]string{"demo", "--dataset", "mnist"}, 2, `--dataset "mnist": want heart, synthetic, wdbc, diabetes or csv:PATH`},
		{[]string{"demo", "--dataset", "synthetic", "--partition", "iid"}, 2, "the synthetic cohort comes split by its own sites"},
		{[]string{"bench", "attacks", "--dataset", "synthetic", "--hospitals", "101"}, 1, "a synthetic cohort of 101 hospitals; want 1 to 100"},
		{[]string{"bench", "attacks", "--hospitals", "0"}, 2, "--hospitals 0: want at least 2"},
		{[]string{"bench", "attacks", "--lie-target"}, 2, "--lie-target needs --lying-scorers"},
		{[]string{"bench", "attacks", "--claim-samples", "4294967297"}, 2, "--claim-samples 4294967297: the chain takes at most 4294967296"},
		{[]string{"bench", "attacks", "--from", "rows.csv", "--seeds", "3"}, 2, "--from runs nothing, so --seeds would have no effect"},
		{[]string{"bench", "attacks", "--from", "/no/such/rows.csv"}, 1, "--from: open /no/such/rows.csv"},
		{[]string{"bench", "attacks", "--attacks", "sign-flip,none"}, 2, `--attacks: "none" is not an attack: every run has the clean runs (attack none) as rows`},
		{[]string{"bench", "attacks", "--attacks", "label-flip,sign-flip:2"}, 2, "--attacks sign-flip:2: give attack names only; --malicious sets how many hospitals run each"},
		{[]string{"bench", "attacks", "--attacks", "flip"}, 2, `--attacks: sim: unknown attack "flip" (known: label-flip, sign-flip,`},
		{[]string{"demo", "--dataset", "csv:x.csv"}, 2, "needs --label"},
		{[]string{"demo", "--server-opt", "sgd"}, 2, `--server-opt "sgd"`},
		{[]string{"bench"}, 2, "name a benchmark"},
		{[]string{"bench", "mnist"}, 2, `unknown benchmark "mnist"`},
		{[]string{"bench", "heart", "--seeds", "a"}, 2, `--seeds: "a" is not a number`},
		{[]string{"bench", "heart", "--methods", "sgd"}, 2, `unknown method "sgd"`},
		{[]string{"bench", "chain", "--update-bytes", "5000000"}, 2, "larger updates travel as chunk transactions"},
		{[]string{"bench", "chain", "--validators", "0"}, 2, "0 validators; want 1 to 16"},
		{[]string{"train", "--home", "x", "--chunk-size", "10"}, 2, "--chunk-size 10: want at least 1024 bytes"},
		{[]string{"bench", "chain", "--output", "xml"}, 2, `--output "xml": want text or json`},
		{[]string{"bench", "large", "--encodings", "int4"}, 2, `unknown encoding "int4"`},
		{[]string{"bench", "large", "--encodings", "topk", "--topk-ppm", "0"}, 2, "top-k share 0 ppm"},
		{[]string{"bench", "large", "--params", "10"}, 2, "--params must be 100 to"},
		{[]string{"bench", "large", "--dataset", "csv:x.csv"}, 2, `--dataset "csv:x.csv": bench large runs on wdbc or heart`},
		{[]string{"datasets", "fetch"}, 2, "name the data set"},
		{[]string{"datasets", "fetch", "mnist"}, 2, `unknown data set "mnist"`},
		{[]string{"datasets", "pull"}, 2, `unknown subcommand "pull"`},
		{[]string{"datasets", "fetch", "--help"}, 0, "MD5"},
		{[]string{"testnet"}, 2, "--out DIR is required"},
		{[]string{"testnet", "--out", "/tmp/x", "--validators", "0"}, 2, "at least 1"},
		{[]string{"node"}, 2, "--home DIR is required"},
		{[]string{"node", "--home", "/no/such/home"}, 1, "/no/such/home"},
		{[]string{"node", "--home", "/tmp", "--log-format", "xml"}, 2, `--log-format "xml"`},
		{[]string{"train"}, 2, "--home DIR is required"},
		{[]string{"train", "--home", "/no/such"}, 1, "key file"},
		{[]string{"task"}, 2, "create|list|show"},
		{[]string{"task", "frob"}, 2, `unknown subcommand "frob"`},
		{[]string{"task", "list", "--node", "http://127.0.0.1:1"}, 1, "node http://127.0.0.1:1: fl: node unavailable"},
		{[]string{"task", "show", "--node", "http://127.0.0.1:1"}, 1, "unavailable"},
		{[]string{"task", "list", "--output", "yaml", "--node", "http://127.0.0.1:1"}, 2, `--output "yaml"`},
		{[]string{"task", "create"}, 2, "--home DIR (the researcher's key home) is required"},
		{[]string{"task", "create", "--home", "x", "--file", "/no/such.toml"}, 1, "--file"},
		{[]string{"rounds", "list"}, 2, "--task ID is required"},
		{[]string{"rounds", "show", "--task", "1"}, 2, "--round R is required"},
		{[]string{"rounds", "list", "--task", "1", "--node", "http://127.0.0.1:1"}, 1, "unavailable"},
		{[]string{"audit"}, 2, "--task ID is required"},
		{[]string{"audit", "--task", "1", "--node", "http://127.0.0.1:1"}, 1, "node http://127.0.0.1:1 unreachable"},
	}
	for _, c := range newRoot(io.Discard, io.Discard).Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		var out, errb bytes.Buffer
		if code := run([]string{"help", c.Name()}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Example") {
			t.Errorf("fedledger help %s: exit %d, no example in %q", c.Name(), code, out.String())
		}
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		all := out.String() + errb.String()
		if code != tt.code || !strings.Contains(all, tt.want) {
			t.Errorf("fedledger %v: exit %d, output %q; want exit %d containing %q", tt.args, code, all, tt.code, tt.want)
		}
		if code != 0 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 1 {
			t.Errorf("fedledger %v: error is more than two lines: %q", tt.args, errb.String())
		}
	}
}

// TestTaskFile: settings come from the TOML file, command-line flags win,
// and an unknown setting is refused with its name.
func TestTaskFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/task.toml"
	if err := os.WriteFile(path, []byte("name = \"from-file\"\nrounds = 7\nserver-opt = \"fedadagrad\"\nreputation = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := defaultTaskFlags()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--rounds", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := loadTaskFile(path, &f, fs); err != nil {
		t.Fatal(err)
	}
	if f.Name != "from-file" || f.Rounds != 3 || f.ServerOpt != "fedadagrad" || !f.Reputation || f.Model != "logreg" {
		t.Fatalf("merged settings: %+v", f)
	}
	if err := os.WriteFile(path, []byte("roundz = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := loadTaskFile(path, &f, fs); err == nil || !strings.Contains(err.Error(), "roundz") {
		t.Fatalf("unknown setting: %v", err)
	}
	// Validation before sending.
	parts := []pb.Participant{{Name: "h1", Role: pb.ROLE_HOSPITAL, PubKey: make([]byte, 32)}}
	for name, mod := range map[string]func(*taskSpecFlags){
		"unknown hospital": func(f *taskSpecFlags) { f.Hospitals = "h9" },
		"zero rounds":      func(f *taskSpecFlags) { f.Rounds = 0 },
		"bad rule":         func(f *taskSpecFlags) { f.Rule = "krum" },
		"bad model":        func(f *taskSpecFlags) { f.Model = "cnn" },
		"too many min":     func(f *taskSpecFlags) { f.MinParticipants = 2 },
	} {
		g := defaultTaskFlags()
		mod(&g)
		if _, err := g.spec(parts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if spec, err := defaultTaskFlags().spec(parts); err != nil || len(spec.Hospitals) != 1 || spec.MinParticipants != 1 {
		t.Fatalf("default spec: %+v %v", spec, err)
	}
	// What needs no chain is refused before any node is asked.
	g := defaultTaskFlags()
	g.WeightDecay = -1
	if _, err := g.local(); err == nil || !strings.Contains(err.Error(), "weight decay -1") {
		t.Errorf("negative weight decay without a chain: %v", err)
	}
}

// TestWarnIgnored: flags given where they do not apply are named on stderr;
// flags left at their defaults are not.
func TestWarnIgnored(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--hospitals", "10"}, "note: --hospitals does not apply (why); ignored\n"},
		{[]string{"--hospitals", "10", "--partition", "iid"}, "note: --hospitals, --partition do not apply (why); ignored\n"},
	} {
		cmd := &cobra.Command{}
		var stderr bytes.Buffer
		cmd.SetErr(&stderr)
		fs := cmd.Flags()
		fs.Int("hospitals", 4, "")
		fs.String("partition", "", "")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		warnIgnored(cmd, fs, "why", "hospitals", "partition")
		if stderr.String() != c.want {
			t.Errorf("%v: %q, want %q", c.args, stderr.String(), c.want)
		}
	}
}

// TestBenchAttacksFrom: --from prints the table and the acceptance lines
// of rows an earlier run wrote, over several files together, and --out
// writes them back as they were.
func TestBenchAttacksFrom(t *testing.T) {
	dir := t.TempDir()
	rows := []bench.AttackRow{
		{Attack: "none", Rule: "huber", Seed: 1, Accuracy: 0.8, CleanAccuracy: 0.8, FedAvgClean: 0.8, HonestTotal: 10, RoundsToFlag: -1, Flagged: "[]", HonestFedAvg: 0.79},
		{Attack: "sign-flip", Rule: "huber", Seed: 1, Accuracy: 0.7, CleanAccuracy: 0.8, FedAvgClean: 0.8, MaliciousFlagged: 1, FlaggedBy5: 1,
			MaliciousTotal: 3, HonestTotal: 7, RoundsToFlag: -1, Flagged: "[h8@2(malicious)]", HonestFedAvg: 0.79},
	}
	var files []string
	for i, r := range rows {
		f := filepath.Join(dir, fmt.Sprintf("rows%d.csv", i))
		var b bytes.Buffer
		if err := bench.WriteAttackCSV(&b, []bench.AttackRow{r}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, "--from", f)
	}
	merged := filepath.Join(dir, "merged.csv")
	var out, errb bytes.Buffer
	if code := run(append([]string{"bench", "attacks", "--out", merged}, files...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"sign-flip        huber    0.700", "huber  holds    clean runs: no honest hospital flagged",
		"huber  FAILS    attacked: within 2 points of clean FedAvg                                   0 of 1 attacks; fails: sign-flip -0.100",
		"fails: sign-flip 33 %", "rows written to " + merged} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// --output json: the rows and the lines, judged as the table's.
	out.Reset()
	if code := run(append([]string{"bench", "attacks", "--output", "json"}, files...), &out, &errb); code != 0 {
		t.Fatalf("--output json: exit %d: %s", code, errb.String())
	}
	var js struct {
		Rows     []bench.AttackRow
		Criteria []bench.Criterion
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatalf("--output json: %v:\n%s", err, out.String())
	}
	if !reflect.DeepEqual(js.Rows, rows) || !reflect.DeepEqual(js.Criteria, bench.Criteria(rows)) {
		t.Fatalf("--output json printed %+v", js)
	}
	if c := js.Criteria[2]; c.Holds || c.Line != "attacked: within 2 points of clean FedAvg" ||
		c.Detail != "0 of 1 attacks; fails: sign-flip -0.100; honest-only FedAvg -0.010" {
		t.Fatalf("--output json: criterion %+v", c)
	}
	f, err := os.Open(merged)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if back, err := bench.ReadAttackCSV(f); err != nil || !reflect.DeepEqual(back, rows) {
		t.Fatalf("--out wrote %+v (%v), want %+v", back, err, rows)
	}
	// The same run twice would be counted twice: refused.
	out.Reset()
	errb.Reset()
	code := run([]string{"bench", "attacks", "--from", merged, "--from", files[3]}, &out, &errb)
	if want := "row 2 and " + files[3] + " row 1 are both sign-flip under huber, seed 1"; code != 1 || !strings.Contains(errb.String(), want) {
		t.Fatalf("exit %d, %q; want 1 and %q", code, errb.String(), want)
	}
}
