package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/pflag"
)

// repoRoot is the repository's top folder, seen from this package.
const repoRoot = "../.."

// TestCLIDocsUpToDate: docs/cli is exactly what `fedledger docs` writes
// from the commands' own help.
func TestCLIDocsUpToDate(t *testing.T) {
	tmp := t.TempDir()
	if _, err := writeCLIDocs(newRoot(&bytes.Buffer{}, &bytes.Buffer{}), tmp); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(tmp, "*.md"))
	have, _ := filepath.Glob(filepath.Join(repoRoot, cliDocsDir, "*.md"))
	const fix = "run 'go run ./cmd/fedledger docs' from the repository root"
	if len(want) != len(have) {
		t.Fatalf("docs/cli has %d pages, the commands make %d; %s", len(have), len(want), fix)
	}
	for _, w := range want {
		gen, _ := os.ReadFile(w)
		cur, err := os.ReadFile(filepath.Join(repoRoot, cliDocsDir, filepath.Base(w)))
		if err != nil || !bytes.Equal(gen, cur) {
			t.Errorf("docs/cli/%s is stale (%v); %s", filepath.Base(w), err, fix)
		}
	}
}

// documentedCommands returns every fedledger command line in the fenced
// code blocks of a Markdown file: lines that start with "fedledger " or
// "go run ./cmd/fedledger ", continuation lines joined, comments and
// output redirections dropped.
func documentedCommands(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	inCode := false
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		if cur != "" {
			cur += " " + strings.TrimSpace(line)
		} else {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "go run ./cmd/fedledger ") {
				l = "fedledger " + strings.TrimPrefix(l, "go run ./cmd/fedledger ")
			}
			if !strings.HasPrefix(l, "fedledger ") && l != "fedledger" {
				continue
			}
			cur = l
		}
		if strings.HasSuffix(cur, "\\") {
			cur = strings.TrimSuffix(cur, "\\")
			continue
		}
		// A synopsis ("fedledger task create [flags]") is a template, not a command.
		if !strings.Contains(cur, "[flags]") && !strings.Contains(cur, "[command]") {
			out = append(out, shellWords(cur))
		}
		cur = ""
	}
	return out
}

// shellWords splits a command line as a shell would for these docs:
// quotes group words, # starts a comment, > and | end the command.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == '#' && !inWord, r == '>' || r == '|':
			if inWord {
				words = append(words, w.String())
			}
			return words
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDocumentedCommands: every fedledger command shown in README.md and
// docs/ names a real command with flags that parse: run with --help, each
// exits 0 (a typo in a command or flag name, or a bad flag value, exits 2).
func TestDocumentedCommands(t *testing.T) {
	files := []string{filepath.Join(repoRoot, "README.md")}
	docs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	cli, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "cli", "*.md"))
	files = append(append(files, docs...), cli...)
	n := 0
	for _, f := range files {
		for _, words := range documentedCommands(t, f) {
			n++
			var out, errb bytes.Buffer
			if code := run(append(words[1:], "--help"), &out, &errb); code != 0 {
				t.Errorf("%s: %q: exit %d: %s", filepath.Base(f), strings.Join(words, " "), code, errb.String())
				continue
			}
			// --help stops before positional arguments are checked: check
			// them too, so an unknown subcommand or stray word is caught.
			root := newRoot(&out, &errb)
			cmd, rest, err := root.Find(words[1:])
			if err == nil {
				if err = cmd.ParseFlags(rest); errors.Is(err, pflag.ErrHelp) {
					err = nil
				}
			}
			if err == nil {
				err = cmd.ValidateArgs(cmd.Flags().Args())
			}
			if err != nil {
				t.Errorf("%s: %q: %v", filepath.Base(f), strings.Join(words, " "), err)
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d documented commands; is the extraction broken?", n)
	}
	t.Logf("%d documented commands checked", n)
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string]string{
		`fedledger demo --data ../shared/datasets   # the demo`:          "fedledger|demo|--data|../shared/datasets",
		`fedledger task reinstate --reason "key rotated" --task 1`:       "fedledger|task|reinstate|--reason|key rotated|--task|1",
		`fedledger demo --output json > run.json`:                        "fedledger|demo|--output|json",
		`fedledger completion bash > /etc/bash_completion.d/fedledger`:   "fedledger|completion|bash",
		`fedledger train --home ./keys/a#b --node http://10.0.0.1:26657`: "fedledger|train|--home|./keys/a#b|--node|http://10.0.0.1:26657",
	} {
		if got := strings.Join(shellWords(in), "|"); got != want {
			t.Errorf("shellWords(%q) = %q, want %q", in, got, want)
		}
	}
}
