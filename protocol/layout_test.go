package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayout: the hospital side (package fl and all it imports) links no
// chain package, and no chain package links fl: they meet in protocol.
func TestLayout(t *testing.T) {
	for _, c := range []struct{ pkgs, forbidden string }{
		{"github.com/fedledger/fedledger/fl", "github.com/fedledger/fedledger/chain"},
		{"github.com/fedledger/fedledger/chain/...", "github.com/fedledger/fedledger/fl"},
	} {
		out, err := exec.Command("go", "list", "-deps", c.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", c.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == c.forbidden || strings.HasPrefix(dep, c.forbidden+"/") {
				t.Errorf("%s imports %s", c.pkgs, dep)
			}
		}
	}
}
