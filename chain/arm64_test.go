package chain

import (
	"testing"

	"github.com/fedledger/fedledger/internal/arm64test"
)

// TestGoldenOnArm64 replays the scripted chain of TestGoldenAppHash as
// arm64 code under qemu-user: every app hash must match the golden file
// on another CPU architecture too (DESIGN.md).
func TestGoldenOnArm64(t *testing.T) {
	arm64test.Run(t, "GoldenAppHash|ExtremeUpdates", "TestGoldenAppHash", "TestExtremeUpdatesDoNotHalt")
}
