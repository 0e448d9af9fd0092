package main

import (
	"encoding/json"
	"fmt"
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
	deadline = time.Now().Add(2 * time.Minute)
	for _, r := show(); r < 3; _, r = show() {
		if time.Now().After(deadline) {
			t.Fatalf("task stuck before round 3")
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	deadline = time.Now().Add(3 * time.Minute)
	for st, _ := show(); st != "done"; st, _ = show() {
		if time.Now().After(deadline) {
			t.Fatalf("task did not finish after the restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
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
