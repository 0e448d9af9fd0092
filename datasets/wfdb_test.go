package datasets

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadVitals reads the four ICU records and checks them against the
// values their README gives (decoded independently of this reader).
func TestLoadVitals(t *testing.T) {
	recs, err := LoadVitals(sharedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*WFDBRecord{}
	for _, r := range recs {
		by[r.Name] = r
	}
	s1 := by["s00001-2896-10-10-00-31n"]
	if s1 == nil || len(s1.Signals) != 10 || s1.Samples != 1936 || s1.BaseDate != "10/10/2896" || s1.CounterFreq != 125 ||
		s1.BaseTime != 31*time.Minute+25894*time.Millisecond || len(s1.Comments) != 1 || s1.Comments[0] != "<age>: 60 <sex>: F" {
		t.Fatalf("s00001 header: %+v", s1)
	}
	// Row 14: HR 55.6, PULSE 55.0, RESP 12.4, SpO2 96.0, NBP 120/72/89.
	for name, want := range map[string]float64{"HR": 55.6, "PULSE": 55.0, "RESP": 12.4, "SpO2": 96.0, "NBPSys": 120, "NBPDias": 72, "NBPMean": 89, "ABPSys": 0} {
		i := s1.Signal(name)
		got, ok := s1.Physical(i, 14)
		if i < 0 || !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("s00001 row 14 %s = %v (%v), want %v", name, got, ok, want)
		}
	}
	// Frame 0's RESP is 230 → 23.0 a minute; NBP is invalid there.
	if v, ok := s1.Physical(s1.Signal("RESP"), 0); !ok || v != 23 {
		t.Errorf("RESP at 0: %v %v", v, ok)
	}
	if _, ok := s1.Physical(s1.Signal("NBPSys"), 0); ok {
		t.Error("NBPSys at 0 is WFDB's invalid code, read as a value")
	}
	invalid := 0
	for i := range s1.Samples {
		if _, ok := s1.Physical(s1.Signal("NBPSys"), i); !ok {
			invalid++
		}
	}
	if invalid != 1784 {
		t.Errorf("NBPSys invalid samples: %d, want 1784", invalid)
	}
	if s1.Offset(60) != time.Hour {
		t.Errorf("sample 60 of a one-a-minute record at %s", s1.Offset(60))
	}
	s2 := by["s25047-2704-05-04-10-44n"]
	if v, ok := s2.Physical(s2.Signal("SpO2"), 41); s2.Samples != 72 || !ok || math.Abs(v-42.9) > 1e-9 {
		t.Errorf("s25047 SpO2 at minute 41: %v %v", v, ok)
	}
	// The 125 Hz segments: format 80, a baseline in the gain field.
	w := by["3975656_0015"]
	if w.Freq != 125 || w.Samples != 37500 || w.Signals[2].Baseline != -100 || w.Signals[2].Units != "mmHg" || w.Signals[2].Gain != 0.833333 {
		t.Errorf("3975656_0015: %+v", w.Signals)
	}
	w2 := by["3234460_0016"]
	if v, ok := w2.Physical(0, 0); w2.Samples != 322111 || !ok || math.Abs(v-0.358) > 0.001 {
		t.Errorf("3234460_0016 II at 0: %v %v", v, ok)
	}
	bad := 0
	for i := range w2.Samples {
		if _, ok := w2.Physical(0, i); !ok {
			bad++
		}
	}
	if bad != 479 {
		t.Errorf("3234460_0016 II invalid samples: %d, want 479", bad)
	}
}

// TestWFDBDamaged: a changed byte, a cut file and a header that lies are
// each refused with a message that says what is wrong.
func TestWFDBDamaged(t *testing.T) {
	src := filepath.Join(sharedDir(t), "vitals", "s25047-2704-05-04-10-44n")
	hea, _ := os.ReadFile(filepath.Join(src, "s25047-2704-05-04-10-44n.hea"))
	dat, _ := os.ReadFile(filepath.Join(src, "3234460n.dat"))
	for _, c := range []struct {
		name     string
		hea, dat []byte
		says     string
	}{
		{"intact", hea, dat, ""},
		{"changed sample", hea, append(append([]byte{}, dat[:100]...), append([]byte{dat[100] ^ 1}, dat[101:]...)...), "the file is damaged"},
		{"cut", hea, dat[:len(dat)-14], "the header says 72 samples"},
		{"odd length", hea, dat[:len(dat)-1], "not a whole number"},
		{"other format", []byte(strings.Replace(string(hea), " 16 10/bpm", " 212 10/bpm", 1)), dat, "takes 16 and 80"},
		{"fewer signals", []byte(strings.Replace(string(hea), " 7 ", " 8 ", 1)), dat, "names 8 signals and describes 7"},
		{"escaping file name", []byte(strings.ReplaceAll(string(hea), "3234460n.dat", "../x.dat")), dat, "beside the header"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "r.hea"), c.hea, 0o644)
		os.WriteFile(filepath.Join(dir, "3234460n.dat"), c.dat, 0o644)
		rec, err := ReadWFDB(dir, "r")
		if c.says == "" {
			if err != nil || rec.Samples != 72 {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrWFDB) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want ErrWFDB saying %q", c.name, err, c.says)
		}
	}
}

// FuzzWFDBHeader: any bytes give a record or an error, never a panic, and
// a record's signals are as many as its record line names.
func FuzzWFDBHeader(f *testing.F) {
	if dir := FindDir(""); dir != "" {
		for _, v := range VitalsFiles {
			if strings.HasSuffix(v.Name, ".hea") {
				if b, err := os.ReadFile(filepath.Join(dir, "vitals", v.Record, v.Name)); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Add([]byte("r 2 125 10 1:2:3.5 01/02/2000\nr.dat 80 0.5(-3)/mmHg 8 0 1 2 0 ABP\nr.dat 16\n# c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseWFDBHeader(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if len(rec.Signals) == 0 || rec.Freq <= 0 || rec.Samples > maxWFDBSamples {
			t.Fatalf("accepted %+v", rec)
		}
		for _, s := range rec.Signals {
			if s.Gain <= 0 || (s.Format != 16 && s.Format != 80) || s.File != filepath.Base(s.File) {
				t.Fatalf("accepted signal %+v", s)
			}
		}
	})
}
