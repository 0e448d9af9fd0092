package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeBase finds a base port with 40 free ports above it, in [26000,
// 32000): below the ephemeral range, and above the ports in-process
// networks pick (chain/localnet), so that a port a killed node leaves free
// is not taken by another package's network running beside this one.
func freeBase(t *testing.T) int {
	start := (os.Getpid() % 119) * 50
	for i := 0; i < 119; i++ {
		base := 26000 + (start+i*50)%(119*50)
		ok := true
		for p := base; p < base+40 && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &bytes.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
			}
		}
	})
	return p
}

func runCmd(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestMultiProcess starts 4 `fedledger node` processes and 4 `fedledger
// train` processes on loopback, launches a task with `fedledger task
// create`, kills one trainer (SIGKILL) in mid-task and starts it again; the
// task completes, no round holds two submissions from one hospital, the
// restarted trainer never had a submission refused as a duplicate, and
// `fedledger audit` reports every round OK.
// multiTestnet builds the fedledger binary and writes a 4-validator,
// 4-hospital testnet on fixed free ports; it returns the binary, the
// testnet folder, the data folder and node i's RPC address.
func multiTestnet(t *testing.T, blockInterval string) (bin, net, data string, rpc func(i int) string) {
	t.Helper()
	data = testData(t)
	dir := t.TempDir()
	bin = filepath.Join(dir, "fedledger")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	base := freeBase(t)
	net = filepath.Join(dir, "net")
	if out, err := runCmd(t, bin, "testnet", "--validators", "4", "--hospitals", "4", "--out", net,
		"--base-port", strconv.Itoa(base), "--block-interval", blockInterval); err != nil {
		t.Fatalf("testnet: %v\n%s", err, out)
	}
	return bin, net, data, func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", base+10*i+1) }
}

func TestMultiProcess(t *testing.T) {
	bin, net, data, rpc := multiTestnet(t, "100ms")
	for i := 0; i < 4; i++ {
		start(t, bin, "node", "--home", filepath.Join(net, fmt.Sprintf("node%d", i)), "--log-level", "error")
	}
	names := []string{"cleveland", "hungary", "switzerland", "va"}
	trainers := map[string]*proc{}
	startTrainer := func(i int) *proc {
		return start(t, bin, "train", "--home", filepath.Join(net, "keys", names[i]), "--node", rpc(i), "--data", data)
	}
	// Wait for the network before creating the task.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := runCmd(t, bin, "task", "list", "--node", rpc(3)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("network did not come up")
		}
		time.Sleep(300 * time.Millisecond)
	}
	for i := range names {
		trainers[names[i]] = startTrainer(i)
	}
	out, err := runCmd(t, bin, "task", "create", "--home", filepath.Join(net, "keys", "researcher"), "--node", rpc(0),
		"--rounds", "8", "--name", "e2e", "--commit-window", "1000", "--reveal-window", "1000")
	if err != nil || !strings.Contains(out, "task 1 created") {
		t.Fatalf("task create: %v\n%s", err, out)
	}
	type taskJSON struct {
		Status       string `json:"status"`
		CurrentRound uint32 `json:"current_round"`
	}
	show := func() taskJSON {
		out, err := runCmd(t, bin, "task", "show", "--node", rpc(1), "--home", filepath.Join(net, "keys", "reviewer"), "--task", "1", "--output", "json")
		var tj taskJSON
		if err == nil {
			json.Unmarshal([]byte(out), &tj)
		}
		return tj
	}
	// Kill va's trainer once round 3 is open, start it again a moment later.
	deadline = time.Now().Add(2 * time.Minute)
	for show().CurrentRound < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("task stuck before round 3: %+v", show())
		}
		time.Sleep(100 * time.Millisecond)
	}
	va := trainers["va"]
	va.cmd.Process.Kill()
	va.cmd.Wait()
	time.Sleep(time.Second)
	restarted := startTrainer(3)
	for show().Status != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("task did not complete: %+v\nva after restart:\n%s", show(), restarted.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// No duplicate submissions in any round.
	out, err = runCmd(t, bin, "rounds", "list", "--node", rpc(2), "--home", filepath.Join(net, "keys", "reviewer"), "--task", "1", "--output", "json")
	if err != nil {
		t.Fatalf("rounds list: %v\n%s", err, out)
	}
	var rounds []struct {
		Round       uint32 `json:"round"`
		Outcome     string `json:"outcome"`
		Submissions []struct {
			Hospital string `json:"hospital"`
		} `json:"submissions"`
	}
	if err := json.Unmarshal([]byte(out), &rounds); err != nil || len(rounds) != 8 {
		t.Fatalf("rounds list: %v, %d rounds\n%s", err, len(rounds), out)
	}
	for _, r := range rounds {
		seen := map[string]bool{}
		for _, s := range r.Submissions {
			if seen[s.Hospital] {
				t.Errorf("round %d: two submissions from %s", r.Round, s.Hospital)
			}
			seen[s.Hospital] = true
		}
		if r.Outcome != "aggregated" {
			t.Errorf("round %d: %s", r.Round, r.Outcome)
		}
	}
	if strings.Contains(restarted.out.String(), "duplicate") {
		t.Errorf("restarted trainer had a duplicate refused:\n%s", restarted.out)
	}
	out, err = runCmd(t, bin, "audit", "--node", rpc(3), "--task", "1")
	if err != nil || !strings.Contains(out, "all 8 rounds OK") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	t.Logf("audit:\n%s", out)
}
