package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSeparateKeyHomes is a deployment whose keys were made on separate
// homes: every participant runs keys init in its own home and hands over
// only pubkey.json; testnet --from-pubkeys writes a network (its validator
// named by host name) that holds no participant's private key; each
// hospital's trainer runs as its own process from its own home on its own
// CSV, which holds a text column and a free-text column; a task that does
// not fit the hospitals' tables is skipped, said once, and the next task,
// whose schema says how to read them, trains to the end.
func TestSeparateKeyHomes(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedledger")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	people := map[string]string{"admin": "admin", "lab": "researcher", "north": "hospital", "south": "hospital"}
	sites := map[string]string{"north": "cleveland", "south": "hungary"}
	pubs := filepath.Join(dir, "pubkeys")
	os.MkdirAll(pubs, 0o755)
	home := func(n string) string { return filepath.Join(dir, "homes", n) }
	for n, role := range people {
		if out, err := runCmd(t, bin, "keys", "init", "--home", home(n), "--name", n, "--role", role); err != nil {
			t.Fatalf("keys init %s: %v\n%s", n, err, out)
		}
		bz, err := os.ReadFile(filepath.Join(home(n), "pubkey.json"))
		if err != nil || strings.Contains(string(bz), "priv") {
			t.Fatalf("%s's pubkey.json: %v %s", n, err, bz)
		}
		os.WriteFile(filepath.Join(pubs, n+".json"), bz, 0o644)
	}
	if out, err := runCmd(t, bin, "keys", "init", "--home", home("north"), "--name", "north"); err == nil {
		t.Errorf("a second key in one home: %s", out)
	}
	base := freeBase(t)
	net := filepath.Join(dir, "net")
	if out, err := runCmd(t, bin, "testnet", "--validators", "1", "--out", net, "--from-pubkeys", pubs, "--hosts", "localhost",
		"--base-port", strconv.Itoa(base)); err != nil {
		t.Fatalf("testnet: %v\n%s", err, out)
	}
	filepath.Walk(net, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "key.json" {
			t.Errorf("testnet wrote a participant's private key: %s", p)
		}
		return nil
	})
	for n := range people {
		bz, err := os.ReadFile(filepath.Join(net, "keys", n, "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(home(n), "genesis.json"), bz, 0o644)
	}
	start(t, bin, "node", "--home", filepath.Join(net, "node0"), "--log-level", "error")
	rpc := fmt.Sprintf("http://localhost:%d", base+1)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := runCmd(t, bin, "task", "list", "--node", rpc, "--home", home("lab")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the network did not come up")
		}
		time.Sleep(300 * time.Millisecond)
	}
	trainers := map[string]*proc{}
	for n, site := range sites {
		csv := writeHeartCSV(t, data, site, filepath.Join(dir, n+".csv"))
		trainers[n] = start(t, bin, "train", "--home", home(n), "--node", rpc, "--dataset", "csv:"+csv)
	}
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(heartSchema), 0o644)
	create := func(args ...string) {
		base := []string{"task", "create", "--home", home("lab"), "--node", rpc, "--rounds", "2", "--commit-window", "1000", "--reveal-window", "1000"}
		if out, err := runCmd(t, bin, append(base, args...)...); err != nil {
			t.Fatalf("task create %v: %v\n%s", args, err, out)
		}
	}
	create("--inputs", "30", "--name", "mismatched")
	create("--name", "heart", "--schema", schema)
	deadline = time.Now().Add(3 * time.Minute)
	for {
		out, _ := runCmd(t, bin, "task", "show", "--node", rpc, "--home", home("lab"), "--task", "2", "--output", "json")
		var tj struct {
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(out), &tj) == nil && tj.Status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task 2 did not finish: %s\nnorth:\n%s", out, trainers["north"].out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for n, p := range trainers {
		if p.cmd.ProcessState != nil {
			t.Errorf("%s's trainer stopped:\n%s", n, p.out)
		}
		if got := strings.Count(p.out.String(), "skipping task 1"); got != 1 {
			t.Errorf("%s's trainer said %d times that it skips task 1:\n%s", n, got, p.out)
		}
	}
}
