package protocol

import (
	"testing"

	"github.com/fedledger/fedledger/internal/arm64test"
)

// TestGoldenOnArm64 runs the initial-model golden vector as arm64 code
// under qemu-user: the chain's draw must give the same integers on another
// CPU architecture (DESIGN.md).
func TestGoldenOnArm64(t *testing.T) {
	arm64test.Run(t, "DrawInitialModel|Example", "TestDrawInitialModel", "ExampleDrawInitialModel")
}
