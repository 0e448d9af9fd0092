package aggregator

import (
	"testing"

	"github.com/fedledger/fedledger/internal/arm64test"
)

// TestGoldenOnArm64 runs the golden-vector tests as arm64 code under
// qemu-user: the fixed-point rules must give the same bits on another CPU
// architecture (DESIGN.md).
func TestGoldenOnArm64(t *testing.T) {
	arm64test.Run(t, "Golden|FedAvgTable|ServerStepFloatReference", "TestGolden", "TestRobustGolden")
}
