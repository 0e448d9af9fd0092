package datasets

import (
	"fmt"
	"path/filepath"
)

// VitalsFile is one file of the ICU vital-sign recordings: its record
// folder under vitals/, its name and its MD5 sum.
type VitalsFile struct{ Record, Name, MD5 string }

// VitalsFiles are the eight files of ../shared/datasets/vitals (two MIMIC
// II patients' bedside-monitor numerics, one value a minute, and a 125 Hz
// waveform segment of each; see its README for source and licence).
var VitalsFiles = []VitalsFile{
	{"s00001-2896-10-10-00-31n", "s00001-2896-10-10-00-31n.hea", "912b6ede188ae1e05b676523691401e8"},
	{"s00001-2896-10-10-00-31n", "3975656n.dat", "40844fa2df300d16c6c1b8306decc142"},
	{"s25047-2704-05-04-10-44n", "s25047-2704-05-04-10-44n.hea", "63e5abe3ef1b4507b2262cb3b5237bf9"},
	{"s25047-2704-05-04-10-44n", "3234460n.dat", "3fa998d4315ff4f8fda482149a00a429"},
	{"3975656_0015", "3975656_0015.hea", "dd1520ac1dbd0b83c9a6072dbbf1afa7"},
	{"3975656_0015", "3975656_0015.dat", "513051a77ae8add7e5ea5dcafba5f02d"},
	{"3234460_0016", "3234460_0016.hea", "b61bf5f87be6ebb99fd970ab3d6efaf6"},
	{"3234460_0016", "3234460_0016.dat", "5a25780caafeea94e7096645f2aa74e1"},
}

// VitalsNumerics are the two numerics records (HR, blood pressure,
// SpO2, respiration a minute), the ones a simulated bedside monitor
// replays.
var VitalsNumerics = []string{"s00001-2896-10-10-00-31n", "s25047-2704-05-04-10-44n"}

// LoadVitals checks the MD5 sum of every vitals file under dir/vitals
// (dir is the folder that holds vitals/, as for the other data sets) and
// reads the records named (all four when none is).
func LoadVitals(dir string, records ...string) ([]*WFDBRecord, error) {
	root := filepath.Join(dir, "vitals")
	for _, f := range VitalsFiles {
		path := filepath.Join(root, f.Record, f.Name)
		sum, err := md5File(path)
		if err != nil {
			return nil, fmt.Errorf("datasets: vitals: %v (the ICU recordings are in ../shared/datasets/vitals; give the folder that holds vitals/)", err)
		}
		if sum != f.MD5 {
			return nil, fmt.Errorf("datasets: %s has MD5 %s, want %s: not the recording the project was built on", path, sum, f.MD5)
		}
	}
	if len(records) == 0 {
		for i, f := range VitalsFiles {
			if i%2 == 0 {
				records = append(records, f.Record)
			}
		}
	}
	var out []*WFDBRecord
	for _, r := range records {
		rec, err := ReadWFDB(filepath.Join(root, r), r)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
