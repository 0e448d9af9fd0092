package arm64test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Run cross-compiles the tests of the package in the current directory
// for linux/arm64, runs those matching pattern under qemu-aarch64, and
// fails unless each test named in mustPass passed. Without qemu-aarch64
// (apt-get install qemu-user; .ci/run installs it) the test says so and
// skips; on arm64 it skips, the tests themselves being the check.
func Run(t *testing.T, pattern string, mustPass ...string) {
	t.Helper()
	if runtime.GOARCH == "arm64" {
		t.Skip("running on arm64 already: the golden tests are the check")
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		t.Skip("qemu-aarch64 not installed (apt-get install qemu-user); .ci/run installs it")
	}
	bin := filepath.Join(t.TempDir(), "arm64.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile for arm64: %v\n%s", err, out)
	}
	out, err := exec.Command(qemu, bin, "-test.run", pattern, "-test.v").CombinedOutput()
	if err != nil {
		t.Fatalf("golden vectors under qemu-aarch64: %v\n%s", err, out)
	}
	for _, name := range mustPass {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Fatalf("%s did not pass under qemu-aarch64:\n%s", name, out)
		}
	}
	t.Logf("arm64 (qemu): %d tests passed", strings.Count(string(out), "--- PASS"))
}
