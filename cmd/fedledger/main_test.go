package main

import (
	"bytes"
	"strings"
	"testing"
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
		{[]string{"demo", "--rounds", "x"}, 2, `invalid value "x" for flag -rounds`},
		{[]string{"demo", "--rounds", "0"}, 2, "--rounds 0: want at least 1"},
		{[]string{"demo", "--validators", "0"}, 2, "--validators 0"},
		{[]string{"demo", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"demo", "--report", "/no/such/dir/r.json"}, 2, "folder /no/such/dir does not exist"},
		{[]string{"demo", "--data", "/no/such/data"}, 1, "data not found"},
		{[]string{"demo", "--dataset", "mnist"}, 2, `--dataset "mnist": want heart, wdbc or csv:PATH`},
		{[]string{"demo", "--dataset", "csv:x.csv"}, 2, "needs --label"},
		{[]string{"demo", "--server-opt", "sgd"}, 2, `--server-opt "sgd"`},
		{[]string{"bench"}, 2, "name a benchmark"},
		{[]string{"bench", "mnist"}, 2, `unknown benchmark "mnist"`},
		{[]string{"bench", "heart", "--seeds", "a"}, 2, `--seeds: "a" is not a number`},
		{[]string{"bench", "heart", "--methods", "sgd"}, 2, `unknown method "sgd"`},
		{[]string{"datasets", "fetch"}, 2, "name the data set"},
		{[]string{"datasets", "fetch", "mnist"}, 2, `unknown data set "mnist"`},
		{[]string{"datasets", "pull"}, 2, `unknown subcommand "pull"`},
		{[]string{"datasets", "fetch", "--help"}, 0, "MD5"},
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
