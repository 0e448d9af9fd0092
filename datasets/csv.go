package datasets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CSVOptions say how to read a hospital's own table.
type CSVOptions struct {
	// Label is the name of the binary label column. Required.
	Label string
	// Site, if set, names a column whose values say which hospital a row
	// comes from (for the natural partition); it is not a feature.
	Site string
	// Missing is "drop" (the default: drop rows with a missing feature) or
	// "impute" (replace a missing feature by its column's mean).
	Missing string
	// Positive is the label value read as 1. Default: "1" for 0/1 labels,
	// otherwise the second of the two values in sorted order.
	Positive string
	// Columns, when set, are the feature columns in the order the model
	// takes them (a categorical one expands to its levels), whatever order
	// a hospital's file has them in; every other column is ignored. A
	// task's schema sets it, so every hospital encodes alike. Unset, every
	// column but the label, the site and Drop is a feature, in file order.
	Columns []string
	// Drop names columns that are not features (identifiers, free text).
	Drop []string
	// Categorical columns are one-hot encoded over their declared levels,
	// in the declared order, so that every hospital encodes alike (a task
	// declares them in its schema); a value outside the levels is refused.
	Categorical []Categorical
}

// Categorical is a text column and its levels.
type Categorical struct {
	Column string   `json:"column" toml:"column"`
	Levels []string `json:"levels" toml:"levels"`
}

// ErrCSV marks a table that cannot be read; the message says where and why.
var ErrCSV = errors.New("datasets: bad CSV")

func isMissing(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "?", "na", "nan", "null":
		return true
	}
	return false
}

// LoadCSV reads a table with a header row: a binary label column, an
// optional site column, and numeric features in every other column.
func LoadCSV(path string, opt CSVOptions) (*Dataset, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoData, err)
	}
	return ParseCSV(raw, path, opt)
}

// ParseCSV is LoadCSV on bytes; name is used in messages.
func ParseCSV(raw []byte, name string, opt CSVOptions) (*Dataset, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrCSV, name}, a...)...)
	}
	if opt.Label == "" {
		return nil, fail("no label column named; give it with --label")
	}
	switch opt.Missing {
	case "":
		opt.Missing = "drop"
	case "drop", "impute":
	default:
		return nil, fail("missing-value policy %q unknown (known: drop, impute)", opt.Missing)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fail("the file is empty; want a header row and data rows")
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fail("header: %v", err)
	}
	labelCol, siteCol := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if h == opt.Label {
			labelCol = i
		}
		if opt.Site != "" && h == opt.Site {
			siteCol = i
		}
	}
	if labelCol < 0 {
		return nil, fail("no column %q (columns: %s); name the label column with --label", opt.Label, strings.Join(header, ", "))
	}
	if opt.Site != "" && siteCol < 0 {
		return nil, fail("no column %q (columns: %s); name the site column with --site", opt.Site, strings.Join(header, ", "))
	}
	skip := map[string]bool{}
	levels := map[string][]string{}
	known := map[string]bool{}
	for _, h := range header {
		known[h] = true
	}
	for _, d := range opt.Drop {
		if !known[d] {
			return nil, fail("no column %q to drop (columns: %s)", d, strings.Join(header, ", "))
		}
		skip[d] = true
	}
	for _, c := range opt.Categorical {
		if !known[c.Column] {
			return nil, fail("no categorical column %q (columns: %s)", c.Column, strings.Join(header, ", "))
		}
		if len(c.Levels) == 0 {
			return nil, fail("categorical column %q has no levels", c.Column)
		}
		levels[c.Column] = c.Levels
	}
	// features[k] is the column of feature k; level[k] its one-hot level
	// ("" for a numeric column).
	var features []int
	var featNames, level []string
	order := make([]int, 0, len(header))
	if len(opt.Columns) > 0 {
		at := map[string]int{}
		for i, h := range header {
			at[h] = i
		}
		for _, c := range opt.Columns {
			i, ok := at[c]
			if !ok {
				return nil, fail("no column %q, which the schema lists as a feature (columns: %s)", c, strings.Join(header, ", "))
			}
			order = append(order, i)
		}
	} else {
		for i := range header {
			order = append(order, i)
		}
	}
	for _, i := range order {
		h := header[i]
		if i == labelCol || i == siteCol || skip[h] {
			continue
		}
		if lv, ok := levels[h]; ok {
			for _, l := range lv {
				features, featNames, level = append(features, i), append(featNames, h+"="+l), append(level, l)
			}
			continue
		}
		features, featNames, level = append(features, i), append(featNames, h), append(level, "")
	}
	if len(features) == 0 {
		return nil, fail("no feature columns besides the label")
	}
	type row struct {
		x     []float64
		miss  []bool
		label string
		site  string
	}
	var rows []row
	line := 1
	for {
		rec, err := r.Read()
		line++
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		lbl := strings.TrimSpace(rec[labelCol])
		if isMissing(lbl) {
			continue // a row without a label teaches nothing
		}
		rw := row{x: make([]float64, len(features)), miss: make([]bool, len(features)), label: lbl}
		if siteCol >= 0 {
			rw.site = strings.TrimSpace(rec[siteCol])
			if isMissing(rw.site) {
				continue
			}
		}
		for k, c := range features {
			cell := strings.TrimSpace(rec[c])
			if isMissing(cell) {
				rw.miss[k] = true
				continue
			}
			if lv, ok := levels[header[c]]; ok {
				if !slices.Contains(lv, cell) {
					return nil, fail("line %d, column %q: %q is not one of its declared levels (%s); add it to the schema's levels", line, header[c], cell, strings.Join(lv, ", "))
				}
				if cell == level[k] {
					rw.x[k] = 1
				}
				continue
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				return nil, fail("line %d, column %q: %q is not a number; drop the column or declare it categorical with its levels (a task's schema, or --drop / --categorical)", line, header[c], cell)
			}
			rw.x[k] = v
		}
		rows = append(rows, rw)
	}
	if len(rows) == 0 {
		return nil, fail("no data rows after the header")
	}
	// Labels: exactly two values.
	values := map[string]int{}
	for _, rw := range rows {
		values[rw.label]++
	}
	distinct := make([]string, 0, len(values))
	for v := range values {
		distinct = append(distinct, v)
	}
	sort.Strings(distinct)
	switch {
	case len(distinct) == 1:
		return nil, fail("label column %q has only one value (%q); a binary label needs two", opt.Label, distinct[0])
	case len(distinct) > 2:
		shown := distinct
		if len(shown) > 5 {
			shown = append(shown[:5:5], "...")
		}
		return nil, fail("label column %q has %d values (%s); a binary label needs exactly two", opt.Label, len(distinct), strings.Join(shown, ", "))
	}
	pos := opt.Positive
	if pos == "" {
		pos = distinct[1]
		if distinct[0] == "0" && distinct[1] == "1" {
			pos = "1"
		}
	}
	if pos != distinct[0] && pos != distinct[1] {
		return nil, fail("positive label %q is not one of the label's values %q and %q", pos, distinct[0], distinct[1])
	}
	// Missing features.
	means := make([]float64, len(features))
	if opt.Missing == "impute" {
		for k := range features {
			s, n := 0.0, 0
			for _, rw := range rows {
				if !rw.miss[k] {
					s += rw.x[k]
					n++
				}
			}
			if n == 0 {
				return nil, fail("column %q has no values to impute from", featNames[k])
			}
			means[k] = s / float64(n)
		}
	}
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	d := &Dataset{Name: base, Features: featNames, Positive: pos}
	for _, rw := range rows {
		drop := false
		for k, m := range rw.miss {
			if m {
				if opt.Missing == "drop" {
					drop = true
					break
				}
				rw.x[k] = means[k]
			}
		}
		if drop {
			continue
		}
		d.Table.X = append(d.Table.X, rw.x)
		d.Table.Y = append(d.Table.Y, b2f(rw.label == pos))
		if siteCol >= 0 {
			d.Sites = append(d.Sites, rw.site)
		}
	}
	if d.Table.Len() == 0 {
		return nil, fail("every row has a missing value; use --missing impute")
	}
	if p := d.Table.Positives(); p == 0 || p == d.Table.Len() {
		return nil, fail("after dropping rows with missing values only one label value is left; use --missing impute")
	}
	return d, nil
}
