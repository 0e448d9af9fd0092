package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/fedledger/fedledger/gateway/gatewaybench"
)

// TestMain lets the test binary stand in for fedledger when a command
// runs this binary again (bench gateway starts `fedledger gateway serve`
// as a process of its own, to kill it).
func TestMain(m *testing.M) {
	if os.Getenv("FEDLEDGER_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestGatewayKill9: bench gateway with a SIGKILL of the gateway halfway,
// on a small fleet: every reading acknowledged is stored and anchored,
// the monitors resent what was in flight, and none is lost.
func TestGatewayKill9(t *testing.T) {
	data := testData(t)
	t.Setenv("FEDLEDGER_TEST_AS_MAIN", "1")
	code, out, errs := runIn(nil, "bench", "gateway", "--devices", "50", "--rate", "5", "--seconds", "6", "--validators", "1",
		"--kill", "--data", data, "--output", "json")
	var r gatewaybench.Result
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("bench gateway --kill: exit %d\n%s\n%s", code, out, errs)
	}
	if r.Kills != 1 || r.Sent < 1000 || r.Acked != r.Sent || uint64(r.Acked) != r.Stored || r.Anchored != r.Stored || r.Lost != 0 || r.Unacked != 0 || r.Resent == 0 {
		t.Errorf("after a kill -9: %+v", r)
	}
}
