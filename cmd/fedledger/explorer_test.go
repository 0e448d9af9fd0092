package main

import (
	"context"
	"encoding/csv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifactDir is where tests keep what a person looks at afterwards (the
// explorer's screenshot): $FEDLEDGER_ARTIFACTS, or artifacts/ at the
// repository's top (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FEDLEDGER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// findChromium is Debian's chromium (or another Chrome) on PATH. Without
// one the test is skipped on a developer's machine and fails in CI, whose
// .ci/run installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: .ci/run installs Debian's chromium; see its output")
	}
	t.Skip("no chromium on PATH: apt-get install chromium (bash .ci/run does it) to run the explorer's browser test")
	return ""
}

// TestExplorerBrowser runs `fedledger demo --explorer` (a 4-validator
// network, a task with a sign-flipping hospital under the median with
// reputation) and drives a real headless Chromium over the page: the task,
// the accuracy chart with a line per hospital and their mean, every round's
// model hash verified by the light client, the reputation with its reasons,
// and the audit button replaying the chain to OK. It keeps a screenshot of
// the page in the artifacts folder.
func TestExplorerBrowser(t *testing.T) {
	browser := findChromium(t)
	data := testData(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"demo", "--data", data, "--rounds", "4", "--rule", "median", "--attack", "sign-flip:1",
			"--explorer", "127.0.0.1:0"}, &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo --explorer exited %d after Ctrl-C: %s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("demo --explorer did not stop within 30 s of Ctrl-C")
		}
	})
	stayUp := regexp.MustCompile(`stay up at (http://127\.0\.0\.1:\d+/)`)
	var url string
	for deadline := time.Now().Add(3 * time.Minute); url == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m := stayUp.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("demo --explorer exited %d before serving:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
	}
	if url == "" {
		t.Fatalf("demo --explorer never said where it serves:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "explorer: "+url) {
		t.Errorf("the explorer's address was not printed when the network started:\n%s", out.String())
	}

	// The history downloads, as a reviewer's script would fetch them.
	resp, err := http.Get(url + "api/tasks/1/history.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(rows) != 1+4*4 || !strings.Contains(resp.Header.Get("Content-Disposition"), "task-1-history.csv") {
		t.Errorf("history.csv: %v, %d rows, %q", err, len(rows), resp.Header.Get("Content-Disposition"))
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1600))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 2*time.Minute)
	defer tcancel()

	// Each step names itself in the failure.
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		step("text of "+sel, err)
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("`+sel+`").length`))
		step("count "+sel, err)
		return n
	}
	step("open the task list", chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#tasks a"))))
	tasks := text("#tasks")
	step("open task 1", chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#tasks a")), chromedp.WaitVisible(chromedp.CSS("#chart-accuracy polyline"))))
	title := text("#task-title")
	lines, repLines, repRows := count("#chart-accuracy polyline.series"), count("#chart-reputation polyline.series"), count("#reputation tr")
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelectorAll(".badge.pending").length === 0`, chromedp.WithPollingTimeout(time.Minute)))
	step("wait for every model hash to be checked", err)
	verified := count("#rounds .badge.verified")
	step("run the audit", chromedp.Do(bctx, chromedp.Click(chromedp.ID("audit-button")), chromedp.WaitVisible(chromedp.CSS("#audit-result.ok, #audit-result.bad"))))
	result := text("#audit-result")
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	step("screenshot", err)
	png := filepath.Join(artifactDir(t), "explorer.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", png)
	if !strings.Contains(tasks, "heart-disease-demo") || !strings.Contains(title, "heart-disease-demo") || !strings.Contains(title, "done") {
		t.Errorf("task list %q, title %q", tasks, title)
	}
	if lines != 5 { // 4 hospitals and their mean
		t.Errorf("accuracy chart: %d lines, want 5", lines)
	}
	if repLines != 4 || repRows != 1+4*4 { // a line per hospital; a row per round and hospital
		t.Errorf("reputation: %d chart lines, %d table rows", repLines, repRows)
	}
	if verified != 4 {
		t.Errorf("%d of 4 rounds' model hashes shown verified", verified)
	}
	if !strings.HasPrefix(result, "OK: all 4 rounds replayed and verified") {
		t.Errorf("audit button: %q", result)
	}
}
