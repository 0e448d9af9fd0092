package aggregator

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestGoldenOnArm64 cross-compiles this package's tests for linux/arm64 and
// runs the golden-vector tests under qemu-user: the fixed-point rules must
// give the same bits on another CPU architecture (DESIGN.md). .ci/run
// installs qemu-user; without it the test says so and skips.
func TestGoldenOnArm64(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("running on arm64 already: the golden tests above are the check")
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Skip("qemu-aarch64 not installed (apt-get install qemu-user); .ci/run installs it")
	}
	bin := filepath.Join(t.TempDir(), "aggregator-arm64.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile for arm64: %v\n%s", err, out)
	}
	run := exec.Command(qemu, bin, "-test.run", "Golden|FedAvgTable|ServerStepFloatReference", "-test.v")
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGolden ") || !strings.Contains(string(out), "--- PASS: TestRobustGolden") {
		t.Fatalf("golden vectors under qemu-aarch64: %v\n%s", err, out)
	}
	t.Logf("arm64 (qemu): %d golden tests passed", strings.Count(string(out), "--- PASS"))
}
