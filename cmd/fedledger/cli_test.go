package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leaves lists every runnable command of the tree by its path without
// "fedledger ", leaving out cobra's help and completion scripts.
func leaves(c *cobra.Command) []string {
	var out []string
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		if sub.Runnable() && !sub.HasSubCommands() {
			out = append(out, strings.TrimPrefix(sub.CommandPath(), "fedledger "))
		}
		out = append(out, leaves(sub)...)
	}
	return out
}

// isJSON reports whether out is one JSON document or JSON lines.
func isJSON(out string) bool {
	out = strings.TrimSpace(out)
	if out == "" {
		return false
	}
	if json.Valid([]byte(out)) {
		return true
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			return false
		}
	}
	return true
}

// TestEveryCommandOutputJSON walks the whole command tree and runs every
// command that prints with --output json, against a real one-validator
// network (`fedledger testnet` and `fedledger node`, in this process) where
// it needs a chain: each must print JSON on stdout (one document, or one
// object per line for the trainer's log) and exit as expected. A command
// added without a case here fails the test.
func TestEveryCommandOutputJSON(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	base := freeBase(t)
	net := filepath.Join(dir, "net")
	rpc := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	store := filepath.Join(dir, "store")
	store2 := filepath.Join(dir, "store2") // records serve holds store
	serveAddr := fmt.Sprintf("127.0.0.1:%d", base+9)
	gwAddr, gwStatus := fmt.Sprintf("127.0.0.1:%d", base+7), fmt.Sprintf("127.0.0.1:%d", base+8)
	stopGateway := func() {}
	if err := os.WriteFile(filepath.Join(dir, "obs.json"), []byte(`{"resourceType": "Observation", "id": "chol", "valueQuantity": {"value": 233, "unit": "mg/dL"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	type invocation struct {
		args []string
		code int
	}
	cases := map[string]invocation{
		"version":   {[]string{"version"}, 0},
		"keys init": {[]string{"keys", "init", "--home", filepath.Join(dir, "own-key"), "--name", "north"}, 0},
		"docs":      {[]string{"docs", "--dir", filepath.Join(dir, "cli")}, 0},
		"testnet":   {[]string{"testnet", "--validators", "1", "--hospitals", "1", "--out", net, "--base-port", strconv.Itoa(base), "--block-interval", "50ms"}, 0},
		"task create": {[]string{"task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "1",
			"--commit-window", "1000", "--reveal-window", "1000"}, 0},
		"task list":       {[]string{"task", "list", "--node", rpc}, 0},
		"task show":       {[]string{"task", "show", "--node", rpc, "--task", "1"}, 0},
		"train":           {[]string{"train", "--home", key("cleveland"), "--node", rpc, "--data", data, "--task", "1"}, 0},
		"rounds list":     {[]string{"rounds", "list", "--node", rpc, "--task", "1"}, 0},
		"rounds show":     {[]string{"rounds", "show", "--node", rpc, "--task", "1", "--round", "1"}, 0},
		"rounds plot":     {[]string{"rounds", "plot", "--node", rpc, "--task", "1", "--out", filepath.Join(dir, "acc.png")}, 0},
		"rounds export":   {[]string{"rounds", "export", "--node", rpc, "--task", "1", "--out", filepath.Join(dir, "history.csv")}, 0},
		"audit":           {[]string{"audit", "--node", rpc, "--task", "1"}, 0},
		"model export":    {[]string{"model", "export", "--node", rpc, "--task", "1", "--out", filepath.Join(dir, "model.json")}, 0},
		"predict":         {[]string{"predict", "--model", filepath.Join(dir, "model.json"), "--data", data, "--site", "cleveland"}, 0},
		"task cancel":     {[]string{"task", "cancel", "--home", key("researcher"), "--node", rpc, "--task", "1", "--reason", "done already"}, 1},
		"task reinstate":  {[]string{"task", "reinstate", "--home", key("admin"), "--node", rpc, "--task", "1", "--hospital", "cleveland"}, 1},
		"tx sign":         {[]string{"tx", "sign", "--home", key("admin"), "--node", rpc, "--body", `{"update_params": {"max_chunks": "8"}}`}, 0},
		"tx decode":       {[]string{"tx", "decode", "--file", filepath.Join(dir, "tx.hex")}, 0},
		"tx broadcast":    {[]string{"tx", "broadcast", "--node", rpc, "--file", filepath.Join(dir, "tx.hex")}, 0},
		"demo":            {[]string{"demo", "--data", data, "--rounds", "2", "--validators", "1"}, 0},
		"bench aggregate": {[]string{"bench", "aggregate", "--params", "1000", "--updates", "3", "--reps", "1", "--rules", "fedavg,median"}, 0},
		"bench heart":     {[]string{"bench", "heart", "--data", data, "--seeds", "42", "--rounds", "1", "--validators", "1", "--methods", "fedavg"}, 0},
		"bench attacks": {[]string{"bench", "attacks", "--data", data, "--seeds", "42", "--rounds", "1", "--validators", "1",
			"--attacks", "scale", "--rules", "fedavg", "--hospitals", "4", "--malicious", "1"}, 0},
		"bench chain": {[]string{"bench", "chain", "--validators", "1", "--updates", "10", "--update-bytes", "2000", "--senders", "1"}, 0},
		"bench large": {[]string{"bench", "large", "--data", data, "--params", "2000", "--rounds", "1", "--validators", "1", "--encodings", "int8", "--hospitals", "2"}, 0},
		"records put": {[]string{"records", "put", "--home", key("cleveland"), "--node", rpc, "--store", store, "--id", "obs-1",
			"--file", filepath.Join(dir, "obs.json"), "--json", "--patient", "p1", "--dataset", "heart"}, 0},
		"records anchor": {[]string{"records", "anchor", "--home", key("cleveland"), "--node", rpc, "--store", store}, 0},
		"records verify": {[]string{"records", "verify", "--home", key("cleveland"), "--node", rpc, "--store", store, "--id", "obs-1"}, 0},
		"records grant": {[]string{"records", "grant", "--home", key("cleveland"), "--node", rpc, "--grantee", "researcher",
			"--scope", "dataset:heart", "--purpose", "research"}, 0},
		"records get": {[]string{"records", "get", "--home", key("researcher"), "--node", rpc, "--server", "http://" + serveAddr,
			"--holder", "cleveland", "--id", "obs-1", "--grant", "1", "--purpose", "research"}, 0},
		"records revoke": {[]string{"records", "revoke", "--home", key("cleveland"), "--node", rpc, "--grant", "1"}, 0},
		"records break-glass": {[]string{"records", "break-glass", "--home", key("cleveland"), "--node", rpc, "--holder", "cleveland",
			"--id", "obs-1", "--reason", "emergency"}, 0},
		"records close-review": {[]string{"records", "close-review", "--home", key("reviewer"), "--node", rpc, "--review", "1", "--note", "justified"}, 0},
		"records log":          {[]string{"records", "log", "--node", rpc, "--holder", "cleveland"}, 0},
		"records erase":        {[]string{"records", "erase", "--home", key("cleveland"), "--store", store2, "--id", "obs-1"}, 0},
		"bench records":        {[]string{"bench", "records", "--validators", "1", "--anchors", "100", "--reads", "10", "--readers", "2", "--proofs", "10"}, 0},
		"gateway device add": {[]string{"gateway", "device", "add", "--devices", filepath.Join(dir, "devices.json"), "--count", "3",
			"--credentials-out", filepath.Join(dir, "creds.json")}, 0},
		"devices simulate": {[]string{"devices", "simulate", "--broker", gwAddr, "--credentials", filepath.Join(dir, "creds.json"),
			"--data", data, "--rate", "5", "--seconds", "1"}, 0},
		"gateway status": {[]string{"gateway", "status", "--status", "http://" + gwStatus}, 0},
		"gateway export": {[]string{"gateway", "export", "--store", filepath.Join(dir, "gw"), "--out", filepath.Join(dir, "share"), "--k", "3"}, 0},
		"bench gateway":  {[]string{"bench", "gateway", "--devices", "5", "--seconds", "1", "--validators", "1", "--data", data}, 0},
		// datasets fetch downloads from the internet; refused before any
		// download, its --output json is parsed like every other flag.
		"datasets fetch": {[]string{"datasets", "fetch", "mnist"}, 2},
	}
	// The node runs in this process until the test ends.
	order := []string{"version", "keys init", "docs", "testnet", "node", "task create", "task list", "task show", "train",
		"rounds list", "rounds show", "rounds plot", "rounds export", "audit", "explorer", "model export", "predict", "task reinstate", "task cancel", "tx sign", "tx decode", "tx broadcast",
		"records put", "records anchor", "records verify", "records grant", "records serve", "records get", "records revoke",
		"records break-glass", "records close-review", "records log", "records erase",
		"gateway device add", "gateway serve", "devices simulate", "gateway status", "gateway export", "datasets fetch", "demo",
		"bench aggregate", "bench heart", "bench attacks", "bench chain", "bench large", "bench records", "bench gateway"}
	tree := leaves(newRoot(&bytes.Buffer{}, &bytes.Buffer{}))
	for _, l := range tree {
		if _, ok := cases[l]; !ok && l != "node" && l != "records serve" && l != "explorer" && l != "gateway serve" {
			t.Errorf("command %q has no --output json case in this test", l)
		}
	}
	if len(order) != len(tree) {
		t.Fatalf("the tree has %d commands %v; this test runs %d", len(tree), tree, len(order))
	}
	for _, name := range order {
		if name == "node" {
			ctx, cancel := context.WithCancel(context.Background())
			var logs syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runContext(ctx, []string{"node", "--home", filepath.Join(net, "node0"), "--output", "json", "--log-level", "info"}, &logs, &logs)
			}()
			t.Cleanup(func() {
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("node: exit %d", code)
				}
				first, _, _ := strings.Cut(logs.String(), "\n")
				if !json.Valid([]byte(first)) {
					t.Errorf("node --output json: log line %q is not JSON", first)
				}
			})
			continue
		}
		if name == "explorer" { // serves until stopped: its JSON line, then its API
			ctx, cancel := context.WithCancel(context.Background())
			var out, logs syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runContext(ctx, []string{"explorer", "--node", rpc, "--listen", "127.0.0.1:0", "--output", "json"}, &out, &logs)
			}()
			var line struct{ Explorer string }
			for i := 0; i < 100 && json.Unmarshal([]byte(out.String()), &line) != nil; i++ {
				time.Sleep(100 * time.Millisecond)
			}
			if resp, err := http.Get(line.Explorer + "api/tasks/1"); err != nil || resp.StatusCode != 200 {
				t.Errorf("explorer --output json: printed %q; GET api/tasks/1: %v %v", out.String(), err, resp)
			} else {
				resp.Body.Close()
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("explorer: exit %d after Ctrl-C: %s", code, logs.String())
			}
			continue
		}
		if name == "gateway serve" { // runs until gateway export needs its store
			ctx, cancel := context.WithCancel(context.Background())
			var logs syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runContext(ctx, []string{"gateway", "serve", "--home", key("cleveland"), "--node", rpc, "--store", filepath.Join(dir, "gw"),
					"--devices", filepath.Join(dir, "devices.json"), "--listen", gwAddr, "--status-listen", gwStatus, "--output", "json"}, &logs, &logs)
			}()
			stopGateway = func() {
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("gateway serve: exit %d: %s", code, logs.String())
				}
				stopGateway = func() {}
			}
			t.Cleanup(func() { stopGateway() })
			for i := 0; i < 100 && !strings.Contains(logs.String(), "gateway:"); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if name == "gateway export" { // once the simulated readings are all anchored
			var st struct{ Stored, Anchored uint64 }
			for i := 0; i < 600 && (st.Stored == 0 || st.Anchored < st.Stored); i++ {
				time.Sleep(100 * time.Millisecond)
				if resp, err := http.Get("http://" + gwStatus + "/status"); err == nil {
					_ = json.NewDecoder(resp.Body).Decode(&st)
					resp.Body.Close()
				}
			}
			stopGateway()
		}
		if name == "bench gateway" {
			t.Setenv("FEDLEDGER_TEST_AS_MAIN", "1") // the gateway runs as this binary
		}
		if name == "records serve" { // runs until the test ends, like node
			ctx, cancel := context.WithCancel(context.Background())
			var logs syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runContext(ctx, []string{"records", "serve", "--home", key("cleveland"), "--node", rpc, "--store", store,
					"--listen", serveAddr, "--flush", "100ms", "--output", "json"}, &logs, &logs)
			}()
			t.Cleanup(func() {
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("records serve: exit %d: %s", code, logs.String())
				}
			})
			for i := 0; i < 100 && !strings.Contains(logs.String(), "serving"); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		c := cases[name]
		if name == "records erase" { // a record in a store no server holds
			args := append([]string(nil), cases["records put"].args...)
			args[7] = store2
			if code := run(append(args, "--no-anchor"), io.Discard, io.Discard); code != 0 {
				t.Fatalf("records put --no-anchor: exit %d", code)
			}
		}
		if name == "tx decode" { // the tx that tx decode and tx broadcast read
			var tx bytes.Buffer
			if run(cases["tx sign"].args, &tx, io.Discard) != 0 {
				t.Fatal("tx sign failed")
			}
			if err := os.WriteFile(filepath.Join(dir, "tx.hex"), tx.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		var code int
		for tries := 0; ; tries++ {
			stdout.Reset()
			stderr.Reset()
			code = run(append(c.args, "--output", "json"), &stdout, &stderr)
			// The node may still be starting for the first command that
			// dials it; the read that records log shows reaches the chain
			// with the records server's next flush, in a later block.
			retry := strings.Contains(stderr.String(), "unavailable") ||
				(name == "records log" && strings.Contains(stderr.String(), "not found"))
			if code == c.code || tries > 60 || !retry {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code != c.code {
			t.Errorf("%s --output json: exit %d, want %d; stderr: %s", name, code, c.code, stderr.String())
			continue
		}
		if code == 0 && !isJSON(stdout.String()) {
			t.Errorf("%s --output json: stdout is not JSON: %q", name, stdout.String())
		}
	}
	// The text forms a reviewer reads: task show gives the creator and the
	// settings, rounds list the input model's mean accuracy.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{cases["task show"].args, []string{"created by researcher at height", "hospitals train: sgd, learning rate 0.05",
			"rule fedavg", "commit window 1000 blocks, reveal window 1000", "updates int32"}},
		{cases["rounds list"].args, []string{"input acc", "aggregated"}},
		// the read that records get made, logged by records serve
		{cases["records log"].args, []string{"access log: 1 events", "every event below verified", "researcher", "research", "grant 1, served"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, code, stderr.String())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, stdout.String())
			}
		}
	}
}
