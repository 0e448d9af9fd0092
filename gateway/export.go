package gateway

import (
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"
)

// Demographics are what the hospital knows of a patient that an export
// may keep, generalised: age and sex. They are quasi-identifiers: the
// export checks k-anonymity over them.
type Demographics struct {
	Age int    // years; < 0 unknown
	Sex string // as recorded; "" unknown
}

// ExportOptions say what an export keeps.
type ExportOptions struct {
	// K is the smallest number of patients every combination of kept
	// quasi-identifiers must have; an export below it is refused.
	K int
	// Patients, when set, gives each patient's demographics by the
	// identifier the devices sent; the export keeps an age band and sex.
	Patients map[string]Demographics
	// AgeBand is the width of the age bands in years (Safe Harbor: ages
	// over 89 are one band, "90+", whatever the width).
	AgeBand int
	// WithProofs also writes each reading as stored (pseudonymised, with
	// its per-patient shifted time and its nonce) and its leaf index, so
	// that a reviewer can check every row against the chain. Shifted dates
	// are not Safe Harbor: share that file only under a grant.
	WithProofs bool
}

// DefaultExportOptions are k = 5 and 10-year age bands.
func DefaultExportOptions() ExportOptions { return ExportOptions{K: 5, AgeBand: 10} }

// ErrKAnonymity is an export refused because a class of patients with the
// same kept quasi-identifiers is smaller than K.
var ErrKAnonymity = errors.New("gateway: export below k-anonymity")

// ExportSummary is what an export wrote (also its manifest.json).
type ExportSummary struct {
	Readings   int      `json:"readings"`
	Patients   int      `json:"patients"`
	K          int      `json:"k_required"`
	KAchieved  int      `json:"k_achieved"`
	QuasiIDs   []string `json:"quasi_identifiers"`
	Anchored   int      `json:"anchored_readings"`
	Unanchored int      `json:"unanchored_readings_left_out"`
	Files      []string `json:"files"`
	Rules      []string `json:"rules"`
}

// ageBand generalises an age: Safe Harbor's "90+" above 89, else a band
// of width years; "" for an unknown age.
func ageBand(age, width int) string {
	switch {
	case age < 0:
		return ""
	case age > 89:
		return "90+"
	}
	lo := age / width * width
	return fmt.Sprintf("%d-%d", lo, min(lo+width-1, 89))
}

// Export writes a de-identified data set of every anchored reading to
// dir: readings.csv (one row a reading: a patient number local to the
// export, seconds since the patient's first reading in it, the LOINC
// code, the values; with demographics, the age band and sex), and
// manifest.json; with WithProofs also proofs.jsonl. No date, device or
// identifier leaves: times are relative, patients renumbered. It refuses
// (ErrKAnonymity, nothing written) when a class of kept quasi-identifiers
// has fewer than K patients, and when the store has fewer than K patients.
func (s *Store) Export(dir string, opts ExportOptions) (*ExportSummary, error) {
	if opts.K < 1 {
		return nil, errors.New("gateway: k must be at least 1")
	}
	if opts.AgeBand < 1 {
		opts.AgeBand = 10
	}
	_, anchored := s.Counts()
	// Patients by pseudonym, their readings in order.
	type row struct {
		seq uint64
		st  Stored
	}
	byPatient := map[string][]row{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey('r', 0), UpperBound: seqKey('r', anchored)})
	if err != nil {
		return nil, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		var st Stored
		if err := json.Unmarshal(it.Value(), &st); err != nil {
			it.Close()
			return nil, fmt.Errorf("gateway: stored reading: %w", err)
		}
		byPatient[st.Patient] = append(byPatient[st.Patient], row{binary.BigEndian.Uint64(it.Key()[2:]), st})
		n++
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	stored, _ := s.Counts()
	sum := &ExportSummary{Readings: n, Patients: len(byPatient), K: opts.K, Anchored: n, Unanchored: int(stored - anchored),
		Rules: []string{"no dates: times are seconds since the patient's first reading in this export",
			"patients renumbered for this export; devices and identifiers dropped",
			"ages over 89 are 90+; ages in bands"}}
	// Demographics by pseudonym, generalised.
	qi := map[string]string{}
	if opts.Patients != nil {
		sum.QuasiIDs = []string{"age_band", "sex"}
		for id, d := range opts.Patients {
			qi[s.p.Patient(id)] = ageBand(d.Age, opts.AgeBand) + "|" + strings.ToUpper(strings.TrimSpace(d.Sex))
		}
	}
	classes := map[string]int{}
	for p := range byPatient {
		classes[qi[p]]++
	}
	sum.KAchieved = len(byPatient)
	for _, c := range classes {
		sum.KAchieved = min(sum.KAchieved, c)
	}
	if sum.KAchieved < opts.K {
		what := "patients in the store"
		if opts.Patients != nil {
			what = "patients in the smallest age band and sex class"
		}
		return sum, fmt.Errorf("%w: %d %s, k = %d required; widen the age bands (--age-band), drop demographics, or wait for more patients", ErrKAnonymity, sum.KAchieved, what, opts.K)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	patients := make([]string, 0, len(byPatient))
	for p := range byPatient {
		patients = append(patients, p)
	}
	sort.Strings(patients)
	if err := writeFile(filepath.Join(dir, "readings.csv"), 0o600, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"patient", "second", "loinc", "value", "unit", "systolic", "diastolic", "mean"}
		if opts.Patients != nil {
			head = append(head, "age_band", "sex")
		}
		cw.Write(head)
		for num, p := range patients {
			rows := byPatient[p]
			t0, _ := time.Parse(time.RFC3339Nano, rows[0].st.Time)
			for _, r := range rows {
				t, _ := time.Parse(time.RFC3339Nano, r.st.Time)
				rec := []string{strconv.Itoa(num + 1), strconv.FormatInt(int64(t.Sub(t0)/time.Second), 10), r.st.Code, "", r.st.Unit, "", "", ""}
				if r.st.Value != nil {
					rec[3] = strconv.FormatFloat(*r.st.Value, 'f', -1, 64)
				}
				for _, c := range r.st.Components {
					col := map[string]int{"8480-6": 5, "8462-4": 6, "8478-0": 7}[c.Code]
					if col > 0 {
						rec[col], rec[4] = strconv.FormatFloat(c.Value, 'f', -1, 64), c.Unit
					}
				}
				if opts.Patients != nil {
					band, sex, _ := strings.Cut(qi[p], "|")
					rec = append(rec, band, sex)
				}
				cw.Write(rec)
			}
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, "readings.csv")
	if opts.WithProofs {
		if err := writeFile(filepath.Join(dir, "proofs.jsonl"), 0o600, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			for _, p := range patients {
				for _, r := range byPatient[p] {
					a, err := s.Locate(r.seq)
					if err != nil {
						return err
					}
					if err := enc.Encode(a); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
		sum.Files = append(sum.Files, "proofs.jsonl")
	}
	bz, _ := json.MarshalIndent(sum, "", "  ")
	if err := writeAtomic(filepath.Join(dir, "manifest.json"), append(bz, '\n'), 0o600); err != nil {
		return nil, err
	}
	return sum, nil
}
