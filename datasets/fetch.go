package datasets

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// UCIBase is where the UCI Machine Learning Repository serves the files.
const UCIBase = "https://archive.ics.uci.edu/ml/machine-learning-databases"

// RemoteFile is a file Fetch can download: its path under the base URL, the
// folder and name it gets locally, and its MD5 sum.
type RemoteFile struct {
	Remote, LocalDir, Name, MD5 string
}

// Remote lists the files of each data set Fetch knows.
var Remote = map[string][]RemoteFile{
	"heart-disease": func() []RemoteFile {
		var fs []RemoteFile
		for _, h := range HeartFiles {
			fs = append(fs, RemoteFile{"heart-disease/" + h.File, "heart-disease", h.File, h.MD5})
		}
		return fs
	}(),
	"wdbc": {{"breast-cancer-wisconsin/wdbc.data", "wdbc", WDBC.File, WDBC.MD5}},
}

// DefaultCacheDir is where Fetch puts data by default: the user's cache.
func DefaultCacheDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("datasets: no user cache directory (%v); give --dir", err)
	}
	return filepath.Join(c, "fedledger", "datasets"), nil
}

// maxFile bounds a download.
const maxFile = 16 << 20

// Fetch downloads data set name ("heart-disease" or "wdbc") from base (UCIBase
// when empty) into dir, checks every file's MD5 sum, and reports each file
// on out. Files already present with the right sum are kept. A file whose sum
// differs is not written. It returns the directory to pass as --data.
func Fetch(ctx context.Context, name, dir, base string, out io.Writer) (string, error) {
	files, ok := Remote[name]
	if !ok {
		return "", fmt.Errorf("datasets: unknown data set %q (known: heart-disease, wdbc)", name)
	}
	if base == "" {
		base = UCIBase
	}
	base = strings.TrimRight(base, "/")
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	for _, f := range files {
		folder := filepath.Join(dir, f.LocalDir)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return "", fmt.Errorf("datasets: %v", err)
		}
		dst := filepath.Join(folder, f.Name)
		if sum, err := md5File(dst); err == nil && sum == f.MD5 {
			fmt.Fprintf(out, "%s: already there, MD5 ok\n", dst)
			continue
		}
		url := base + "/" + f.Remote
		body, err := download(ctx, url)
		if err != nil {
			return "", err
		}
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); got != f.MD5 {
			return "", fmt.Errorf("datasets: %s has MD5 %s, want %s: not the file UCI distributes; nothing written", url, got, f.MD5)
		}
		tmp := dst + ".part"
		if err := os.WriteFile(tmp, body, 0o644); err != nil {
			return "", fmt.Errorf("datasets: %v", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("datasets: %v", err)
		}
		fmt.Fprintf(out, "%s: %d bytes from %s, MD5 ok\n", dst, len(body), url)
	}
	return dir, nil
}

func download(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("datasets: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("datasets: download %s: %v (check the network, or download the file by hand)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("datasets: download %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("datasets: download %s: %v", url, err)
	}
	if len(body) > maxFile {
		return nil, fmt.Errorf("datasets: %s is larger than %d bytes; not a UCI data file", url, maxFile)
	}
	return body, nil
}

func md5File(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := md5.Sum(b)
	return hex.EncodeToString(s[:]), nil
}
