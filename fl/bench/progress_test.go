package bench

import (
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	p := newProgress(4)
	for i, want := range []string{"[1/4 25%, about ", "[2/4 50%, about ", "[3/4 75%, about ", "[4/4 100%, "} {
		if got := p.step(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "]") {
			t.Errorf("step %d: %q, want %q…]", i+1, got, want)
		}
	}
	if got := newProgress(0).step(); !strings.HasPrefix(got, "[1/0 100%") {
		t.Errorf("a bench that miscounted its runs: %q", got)
	}
}
