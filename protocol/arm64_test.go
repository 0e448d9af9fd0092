package protocol

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestGoldenOnArm64 cross-compiles this package's tests for linux/arm64 and
// runs the initial-model golden vector under qemu-user: the chain's draw
// must give the same integers on another CPU architecture (DESIGN.md).
// .ci/run installs qemu-user; without it the test says so and skips.
func TestGoldenOnArm64(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("running on arm64 already: the golden tests are the check")
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Skip("qemu-aarch64 not installed (apt-get install qemu-user); .ci/run installs it")
	}
	bin := filepath.Join(t.TempDir(), "protocol-arm64.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile for arm64: %v\n%s", err, out)
	}
	out, err := exec.Command(qemu, bin, "-test.run", "DrawInitialModel|Example", "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDrawInitialModel") || !strings.Contains(string(out), "--- PASS: ExampleDrawInitialModel") {
		t.Fatalf("golden vectors under qemu-aarch64: %v\n%s", err, out)
	}
}
