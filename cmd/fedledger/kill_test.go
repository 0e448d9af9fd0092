package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidatorsKilled starts 4 `fedledger node` processes and 4 trainer
// processes (each given three nodes), kills 2 validators with SIGKILL once
// round 3 is open (the network loses quorum: no blocks), starts them again
// after the outage, and checks that the task finishes with every hospital
// in every round, that no trainer exited before the end, that the trainers
// said what they were waiting for, and that the audit passes.
// FEDLEDGER_OUTAGE (a Go duration) sets the outage; the default is 25 s,
// past a verifier's 10 s wait for a header (the 3 minutes:
// FEDLEDGER_OUTAGE=3m).
func TestValidatorsKilled(t *testing.T) {
	outage := 25 * time.Second
	if s := os.Getenv("FEDLEDGER_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("FEDLEDGER_OUTAGE=%q: %v", s, err)
		}
		outage = d
	}
	bin, net, data, rpc := multiTestnet(t, "300ms")
	nodes := make([]*proc, 4)
	startNode := func(i int) {
		nodes[i] = start(t, bin, "node", "--home", filepath.Join(net, fmt.Sprintf("node%d", i)), "--log-level", "error")
	}
	for i := range nodes {
		startNode(i)
	}
	reviewer := filepath.Join(net, "keys", "reviewer")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := runCmd(t, bin, "task", "list", "--node", rpc(3), "--home", reviewer); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("network did not come up")
		}
		time.Sleep(300 * time.Millisecond)
	}
	names := []string{"cleveland", "hungary", "switzerland", "va"}
	var trainers []*proc
	for i, n := range names {
		// Every trainer's first node is one of those that will die; the
		// other two live.
		list := strings.Join([]string{rpc(2 + i%2), rpc(i % 2), rpc(1 - i%2)}, ",")
		trainers = append(trainers, start(t, bin, "train", "--home", filepath.Join(net, "keys", n), "--node", list, "--data", data, "--task", "1"))
	}
	if out, err := runCmd(t, bin, "task", "create", "--home", filepath.Join(net, "keys", "researcher"), "--node", rpc(0),
		"--rounds", "6", "--commit-window", "1000", "--reveal-window", "1000"); err != nil {
		t.Fatalf("task create: %v\n%s", err, out)
	}
	show := func() (status string, round uint32) {
		out, err := exec.Command(bin, "task", "show", "--node", rpc(0), "--home", reviewer, "--task", "1", "--output", "json").Output()
		var tj struct {
			Status       string `json:"status"`
			CurrentRound uint32 `json:"current_round"`
		}
		if err == nil {
			json.Unmarshal(out, &tj)
		}
		return tj.Status, tj.CurrentRound
	}
	// Waits end when the task stops moving, not at a fixed time: on a busy
	// machine a round may take minutes, but it does not stand still.
	const stall = 3 * time.Minute
	waitFor := func(what string, done func(status string, round uint32) bool) {
		last, since := "", time.Now()
		for {
			st, r := show()
			if done(st, r) {
				return
			}
			if now := fmt.Sprint(st, " round ", r); st != "" && now != last {
				last, since = now, time.Now()
			}
			if time.Since(since) > stall {
				t.Fatalf("%s: the task stood still at %s for %s\n%s", what, last, stall, killReport(t, bin, rpc, reviewer, names, trainers, nodes))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("before round 3", func(_ string, r uint32) bool { return r >= 3 })
	for _, i := range []int{2, 3} {
		nodes[i].cmd.Process.Kill() // SIGKILL
		nodes[i].cmd.Wait()
	}
	t.Logf("round 3 open: validators 2 and 3 killed for %s", outage)
	time.Sleep(outage)
	for i, tr := range trainers {
		if tr.cmd.ProcessState != nil {
			t.Fatalf("trainer %s exited during the outage:\n%s", names[i], tr.out)
		}
	}
	startNode(2)
	startNode(3)
	waitFor("after the restart", func(st string, _ uint32) bool { return st == "done" })
	for i, tr := range trainers {
		done := make(chan error, 1)
		go func() { done <- tr.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("trainer %s: %v\n%s", names[i], err, tr.out)
			}
		case <-time.After(time.Minute):
			t.Errorf("trainer %s did not exit after the task finished", names[i])
		}
		if outage >= 15*time.Second && !strings.Contains(tr.out.String(), "waiting, will retry") {
			t.Errorf("trainer %s never said what it waited for:\n%s", names[i], tr.out)
		}
	}
	out, err := runCmd(t, bin, "rounds", "list", "--node", rpc(2), "--home", reviewer, "--task", "1", "--output", "json")
	var rounds []struct {
		Round       uint32 `json:"round"`
		Outcome     string `json:"outcome"`
		Submissions []struct {
			Revealed bool `json:"revealed"`
		} `json:"submissions"`
	}
	if err != nil || json.Unmarshal([]byte(strings.TrimSpace(out)), &rounds) != nil || len(rounds) != 6 {
		t.Fatalf("rounds list: %v\n%s", err, out)
	}
	for _, r := range rounds {
		if r.Outcome != "aggregated" || len(r.Submissions) != 4 {
			t.Errorf("round %d: %s with %d submissions", r.Round, r.Outcome, len(r.Submissions))
		}
	}
	if out, err := runCmd(t, bin, "audit", "--node", rpc(3), "--task", "1"); err != nil || !strings.Contains(out, "all 6 rounds OK") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
}

// killReport says where a stuck task stands: each node's height and the
// task's rounds as node 0 sees them, and the end of every trainer's and
// node's output.
func killReport(t *testing.T, bin string, rpc func(int) string, reviewer string, names []string, trainers, nodes []*proc) string {
	var b strings.Builder
	for i := range nodes {
		height := "unreachable"
		c := http.Client{Timeout: 5 * time.Second}
		if res, err := c.Get(rpc(i) + "/status"); err == nil {
			var st struct {
				Result struct {
					SyncInfo struct {
						Height     string `json:"latest_block_height"`
						CatchingUp bool   `json:"catching_up"`
					} `json:"sync_info"`
				} `json:"result"`
			}
			json.NewDecoder(res.Body).Decode(&st)
			res.Body.Close()
			height = fmt.Sprintf("height %s, catching up %v", st.Result.SyncInfo.Height, st.Result.SyncInfo.CatchingUp)
		}
		fmt.Fprintf(&b, "--- node %d: %s\n", i, height)
	}
	out, _ := exec.Command(bin, "rounds", "list", "--node", rpc(0), "--home", reviewer, "--task", "1").CombinedOutput()
	fmt.Fprintf(&b, "--- rounds (node 0):\n%s\n", out)
	for i, tr := range trainers {
		fmt.Fprintf(&b, "--- trainer %s:\n%s\n", names[i], tail(tr.out.String(), 25))
	}
	for i, n := range nodes {
		fmt.Fprintf(&b, "--- node %d output:\n%s\n", i, tail(n.out.String(), 15))
	}
	return b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
