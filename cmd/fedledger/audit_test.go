package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAuditGenesisPin: audit replays from the genesis the reviewer trusts
// (a file, or a pinned hash), prints that hash, refuses a node whose
// genesis is another, and reports its progress on stderr.
func TestAuditGenesisPin(t *testing.T) {
	data := testData(t)
	net, rpc := startTestnet(t)
	key := func(name string) string { return filepath.Join(net, "keys", name) }
	if code, out, errs := runIn(nil, "task", "create", "--home", key("researcher"), "--node", rpc, "--rounds", "1", "--commit-window", "1000", "--reveal-window", "1000"); code != 0 {
		t.Fatalf("task create: %s %s", out, errs)
	}
	if code, out, errs := runIn(nil, "train", "--home", key("cleveland"), "--node", rpc, "--data", data, "--task", "1"); code != 0 {
		t.Fatalf("train: %s %s", out, errs)
	}
	genesis := filepath.Join(key("reviewer"), "genesis.json")
	code, out, errs := runIn(nil, "audit", "--node", rpc, "--task", "1", "--genesis", genesis)
	hash := regexp.MustCompile(`genesis ([0-9a-f]{64}) \(from a trusted file\)`).FindStringSubmatch(out)
	if code != 0 || hash == nil || !strings.Contains(out, "round 1: OK") || !strings.Contains(errs, "replayed block") {
		t.Fatalf("audit --genesis: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs = runIn(nil, "audit", "--node", rpc, "--task", "1", "--trust-genesis", hash[1]); code != 0 || !strings.Contains(out, "matching the pinned hash") {
		t.Errorf("audit --trust-genesis (right hash): exit %d\n%s\n%s", code, out, errs)
	}
	other := strings.Repeat("ab", 32)
	if code, _, errs = runIn(nil, "audit", "--node", rpc, "--task", "1", "--trust-genesis", other); code != 1 || !strings.Contains(errs, "not the pinned") {
		t.Errorf("audit --trust-genesis (wrong hash): exit %d, %s", code, errs)
	}
	bz, _ := os.ReadFile(genesis)
	forged := filepath.Join(t.TempDir(), "genesis.json")
	os.WriteFile(forged, []byte(strings.Replace(string(bz), "fedledger-testnet", "another-net", 1)), 0o644)
	if code, _, errs = runIn(nil, "audit", "--node", rpc, "--task", "1", "--genesis", forged); code != 1 || !strings.Contains(errs, "another network") {
		t.Errorf("audit --genesis (another network's): exit %d, %s", code, errs)
	}
}
