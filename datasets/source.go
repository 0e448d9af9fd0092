package datasets

import (
	"fmt"
	"strings"
)

// Source names the data of a run, as the command line gives it.
type Source struct {
	// Dataset is "heart", "synthetic", "wdbc", "diabetes" or "csv:PATH".
	Dataset string
	// Dir holds heart-disease/ and wdbc/ (for heart and wdbc).
	Dir string
	// CSV options (for csv:PATH).
	Label, Site, Missing, Positive string
	// Hospitals and Partition split wdbc and CSV tables: "natural" (by the
	// site column), "iid" or "dirichlet:ALPHA". Heart is always natural;
	// Hospitals sizes the synthetic cohort (0: its four).
	Hospitals int
	Partition string
}

// Open loads the source and splits it into a federation with seed. When
// Dataset is "heart" and Dir is empty, it returns the synthetic cohort and
// synthetic = true.
func (s Source) Open(seed uint64) (fed *Federation, note string, err error) {
	switch {
	case s.Dataset == "" || s.Dataset == "heart":
		if s.Dir == "" {
			return Synthetic(seed), "no data directory given (--data or $" + EnvData + "): using the synthetic cohort", nil
		}
		fed, err := LoadHeart(s.Dir, seed)
		return fed, "data: UCI heart disease from " + s.Dir, err
	case s.Dataset == "synthetic":
		if s.Partition != "" && s.Partition != "natural" {
			return nil, "", fmt.Errorf("datasets: the synthetic cohort has its sites (partition natural), not %q; give --hospitals to size it", s.Partition)
		}
		n := s.Hospitals
		if n == 0 {
			n = len(HeartFiles)
		}
		fed, err := SyntheticCohort(seed, n)
		return fed, fmt.Sprintf("data: the synthetic cohort, %d hospitals", n), err
	case s.Dataset == "wdbc":
		if s.Dir == "" {
			return nil, "", fmt.Errorf("%w: wdbc needs --data DIR (the folder holding wdbc/) or $%s; `fedledger datasets fetch wdbc` downloads it", ErrNoData, EnvData)
		}
		d, err := LoadWDBC(s.Dir)
		if err != nil {
			return nil, "", err
		}
		fed, err := s.federate(d, seed, "dirichlet:1.0")
		return fed, fmt.Sprintf("data: Wisconsin breast cancer from %s, %s", s.Dir, s.describe("dirichlet:1.0")), err
	case s.Dataset == "diabetes":
		d, err := LoadDiabetes(s.Dir)
		if err != nil {
			return nil, "", err
		}
		fed, err := s.federate(d, seed, "dirichlet:1.0")
		return fed, fmt.Sprintf("data: diabetes progression (Efron et al. 2004, 442 patients), %s", s.describe("dirichlet:1.0")), err
	case strings.HasPrefix(s.Dataset, "csv:"):
		path := strings.TrimPrefix(s.Dataset, "csv:")
		d, err := LoadCSV(path, CSVOptions{Label: s.Label, Site: s.Site, Missing: s.Missing, Positive: s.Positive})
		if err != nil {
			return nil, "", err
		}
		def := "iid"
		if s.Site != "" {
			def = "natural"
		}
		fed, err := s.federate(d, seed, def)
		return fed, fmt.Sprintf("data: %s (%d rows, %d features, label %q = 1 when %q), %s", path, d.Table.Len(), len(d.Features), s.Label, d.Positive, s.describe(def)), err
	}
	return nil, "", fmt.Errorf("datasets: unknown dataset %q (known: heart, synthetic, wdbc, diabetes, csv:PATH)", s.Dataset)
}

func (s Source) partition(def string) string {
	if s.Partition == "" {
		return def
	}
	return s.Partition
}

func (s Source) describe(def string) string {
	p := s.partition(def)
	if p == "natural" {
		return "split by site"
	}
	return fmt.Sprintf("split %s over %d hospitals", p, s.Hospitals)
}

func (s Source) federate(d *Dataset, seed uint64, def string) (*Federation, error) {
	p, err := ParsePartition(s.partition(def), s.Hospitals)
	if err != nil {
		return nil, err
	}
	return d.Federate(p, seed)
}
