package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/fltest"
)

// runIn runs a command line in this process with stdin.
func runIn(stdin io.Reader, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	root := newRoot(&stdout, &stderr)
	if stdin != nil {
		root.SetIn(stdin)
	}
	code := runRoot(context.Background(), root, args, &stderr)
	return code, stdout.String(), stderr.String()
}

// startTestnet writes a one-validator testnet with one hospital (50 ms
// blocks), runs its node in this process until the test ends, and returns
// the testnet folder and the node's RPC address once it serves.
func startTestnet(t *testing.T) (string, string) {
	t.Helper()
	net := filepath.Join(t.TempDir(), "net")
	base := freeBase(t)
	rpc := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	if code, _, errs := runIn(nil, "testnet", "--validators", "1", "--hospitals", "1", "--out", net, "--base-port", strconv.Itoa(base), "--block-interval", "50ms"); code != 0 {
		t.Fatalf("testnet: %s", errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"node", "--home", filepath.Join(net, "node0")}, &syncBuffer{}, &syncBuffer{})
	}()
	t.Cleanup(func() { cancel(); <-done })
	for range 120 {
		if code, _, _ := runIn(nil, "task", "list", "--node", rpc, "--genesis", filepath.Join(net, "keys", "admin", "genesis.json")); code == 0 {
			return net, rpc
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("node at %s did not serve within 30 s", rpc)
	return "", ""
}

// TestLyingNodeCLI runs the commands through a proxy that forges every
// query answer: `rounds show`, `task show` and `train` name the node and
// exit 1 rather than print or use what it said, while the same commands
// through the node itself succeed.
func TestLyingNodeCLI(t *testing.T) {
	data := testData(t)
	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	do := func(args ...string) (int, string, string) { return runIn(nil, args...) }
	if code, _, errs := do("task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "1", "--commit-window", "1000", "--reveal-window", "1000"); code != 0 {
		t.Fatalf("task create: %s", errs)
	}
	if code, _, errs := do("train", "--home", key("cleveland"), "--node", rpc, "--data", data, "--task", "1"); code != 0 {
		t.Fatalf("train through the node: %s", errs)
	}
	genesis := filepath.Join(key("reviewer"), "genesis.json")
	if code, out, errs := do("rounds", "show", "--node", rpc, "--genesis", genesis, "--task", "1", "--round", "1"); code != 0 || !strings.Contains(out, "cleveland") {
		t.Fatalf("rounds show through the node: exit %d %s %s", code, out, errs)
	}

	proxy := fltest.NewLyingProxy(rpc, fltest.ForgeValue)
	defer proxy.Close()
	for _, args := range [][]string{
		{"rounds", "show", "--node", proxy.URL, "--genesis", genesis, "--task", "1", "--round", "1"},
		{"task", "show", "--node", proxy.URL, "--home", key("reviewer"), "--task", "1"},
		{"train", "--home", key("cleveland"), "--node", proxy.URL, "--data", data, "--task", "1"},
	} {
		code, out, errs := do(args...)
		if code != 1 || !strings.Contains(errs, "not what the chain committed") || !strings.Contains(errs, proxy.URL) {
			t.Errorf("%s through a lying node: exit %d, stdout %q, stderr %q; want exit 1 naming the node", strings.Join(args[:2], " "), code, out, errs)
		}
	}
	// Without a trust root the command warns that it cannot verify.
	if _, _, errs := do("task", "list", "--node", rpc); !strings.Contains(errs, "not verified") {
		t.Errorf("task list with no trust root: stderr %q; want a warning", errs)
	}
}

// testData is the data folder the tests read (../shared/datasets or
// $FEDLEDGER_DATA); without one the test fails and says where to put it.
func testData(t *testing.T) string {
	t.Helper()
	data := datasets.FindDir("")
	if data == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", datasets.EnvData)
	}
	return data
}

// writeHeartCSV writes a hospital's heart disease rows as a CSV with a
// free-text column, a text column (sex) and its columns in another order
// than the schema in heartSchema lists them, and returns its path.
func writeHeartCSV(t *testing.T, data, site, path string) string {
	t.Helper()
	rows, err := datasets.LoadHeartRows(data, site)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("note,chol,sex,age,target\n")
	for i, x := range rows.X {
		sex := map[bool]string{true: "male", false: "female"}[x[1] == 1]
		fmt.Fprintf(&b, "\"seen in ward %d, ok\",%g,%s,%g,%g\n", i%7, x[3], sex, x[0], rows.Y[i])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// heartSchema is the schema that reads writeHeartCSV's files.
const heartSchema = `{"label": "target", "columns": ["age", "sex", "chol"], "categorical": [{"column": "sex", "levels": ["female", "male"]}]}`
