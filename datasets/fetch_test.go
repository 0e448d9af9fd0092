package datasets

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mirror serves ../shared's copies under UCI's paths.
func mirror(t *testing.T, alter bool) *httptest.Server {
	shared := sharedDir(t)
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var local string
		switch {
		case strings.HasPrefix(r.URL.Path, "/heart-disease/"):
			local = filepath.Join(shared, "heart-disease", filepath.Base(r.URL.Path))
		case r.URL.Path == "/breast-cancer-wisconsin/wdbc.data":
			local = filepath.Join(shared, "wdbc", "wdbc.data")
		default:
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(local)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if alter {
			b = append(b, '\n')
		}
		w.Write(b)
	}))
}

func TestFetch(t *testing.T) {
	srv := mirror(t, false)
	defer srv.Close()
	dir := t.TempDir()
	for _, name := range []string{"heart-disease", "wdbc"} {
		var out bytes.Buffer
		got, err := Fetch(context.Background(), name, dir, srv.URL, &out)
		if err != nil {
			t.Fatal(err)
		}
		if got != dir || !strings.Contains(out.String(), "MD5 ok") {
			t.Fatalf("%s: dir %s, output %q", name, got, out.String())
		}
	}
	if _, err := LoadHeart(dir, 1); err != nil {
		t.Fatalf("fetched heart data does not load: %v", err)
	}
	if _, err := LoadWDBC(dir); err != nil {
		t.Fatalf("fetched wdbc does not load: %v", err)
	}
	var out bytes.Buffer
	if _, err := Fetch(context.Background(), "wdbc", dir, srv.URL, &out); err != nil || !strings.Contains(out.String(), "already there") {
		t.Fatalf("second fetch: %v %q", err, out.String())
	}
}

func TestFetchRefusesWrongSum(t *testing.T) {
	srv := mirror(t, true)
	defer srv.Close()
	dir := t.TempDir()
	_, err := Fetch(context.Background(), "wdbc", dir, srv.URL, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("altered file: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "wdbc", "wdbc.data")); !os.IsNotExist(statErr) {
		t.Fatal("a file with a wrong MD5 was written")
	}
	if _, err := Fetch(context.Background(), "mnist", dir, srv.URL, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown data set accepted")
	}
	srv404 := httptest.NewServer(http.NotFoundHandler())
	defer srv404.Close()
	if _, err := Fetch(context.Background(), "wdbc", dir, srv404.URL, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
}
