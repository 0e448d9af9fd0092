package gateway_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/gateway"
)

// TestExport: an export keeps no identifier or date, generalises ages
// (90+), and is refused, writing nothing, below the k the hospital sets.
func TestExport(t *testing.T) {
	p, _ := gateway.NewPseudonymizer(bytes.Repeat([]byte{3}, 32))
	st, err := gateway.OpenStore(filepath.Join(t.TempDir(), "db"), p)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	demo := map[string]gateway.Demographics{}
	ages := []int{34, 36, 52, 55, 58, 95}
	sexes := []string{"F", "F", "M", "M", "M", "F"}
	now := time.Now()
	for i := range ages {
		mrn := fmt.Sprintf("MRN-%06d", 1000+i)
		demo[mrn] = gateway.Demographics{Age: ages[i], Sex: sexes[i]}
		for k := 0; k < 3; k++ {
			payload := reading("bed-1", fmt.Sprintf("r%d-%d", i, k), mrn, "8867-4", "/min", float64(60+k), now.Add(time.Duration(k)*time.Minute))
			r, err := gateway.ParseReading(payload, "bed-1", now)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.Put(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.MarkAnchored(gateway.Batch{FirstSeq: 0, Count: 18, FirstLeaf: 100, Height: 7}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	opts := gateway.DefaultExportOptions()
	opts.K, opts.Patients = 2, demo
	sum, err := st.Export(out, opts)
	if !errors.Is(err, gateway.ErrKAnonymity) || sum.KAchieved != 1 || !strings.Contains(err.Error(), "smallest age band and sex class") {
		t.Fatalf("k = 2 with a lone 90+ woman: %v %+v", err, sum)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused export wrote %s", out)
	}
	// Without demographics the six patients are one class.
	opts.Patients, opts.WithProofs = nil, true
	if sum, err = st.Export(out, opts); err != nil || sum.KAchieved != 6 || sum.Readings != 18 {
		t.Fatalf("export: %v %+v", err, sum)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "readings.csv"))
	rows, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if len(rows) != 19 || rows[1][0] != "1" || rows[3][1] != "120" || rows[1][2] != "8867-4" {
		t.Errorf("readings.csv:\n%s", raw)
	}
	if bytes.Contains(raw, []byte("MRN")) || bytes.Contains(raw, []byte("bed-1")) || bytes.Contains(raw, []byte(now.Format("2006"))) {
		t.Errorf("readings.csv keeps an identifier or a date:\n%s", raw)
	}
	proofs, _ := os.ReadFile(filepath.Join(out, "proofs.jsonl"))
	if n := bytes.Count(proofs, []byte("\n")); n != 18 || !bytes.Contains(proofs, []byte(`"leaf_index":100`)) {
		t.Errorf("proofs.jsonl: %d lines", n)
	}
	// With wide bands the ages still keep 90+ apart, as Safe Harbor asks.
	opts.Patients, opts.AgeBand, opts.K = demo, 60, 1
	if _, err := st.Export(filepath.Join(t.TempDir(), "e2"), opts); err != nil {
		t.Fatal(err)
	}
}
