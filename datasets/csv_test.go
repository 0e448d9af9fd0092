package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCSVErrors: each bad input has its exact error.
func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name, data string
		opt        CSVOptions
		want       string
	}{
		{"empty file", "", CSVOptions{Label: "y"},
			"datasets: bad CSV: t.csv: the file is empty; want a header row and data rows"},
		{"header only", "a,b,y\n", CSVOptions{Label: "y"},
			"datasets: bad CSV: t.csv: no data rows after the header"},
		{"missing label column", "a,b,outcome\n1,2,0\n", CSVOptions{Label: "y"},
			`datasets: bad CSV: t.csv: no column "y" (columns: a, b, outcome); name the label column with --label`},
		{"non-numeric cell", "a,b,y\n1,2,0\n3,high,1\n", CSVOptions{Label: "y"},
			`datasets: bad CSV: t.csv: line 3, column "b": "high" is not a number; drop the column or declare it categorical with its levels (a task's schema, or --drop / --categorical)`},
		{"level not declared", "a,b,y\n1,low,0\n3,high,1\n", CSVOptions{Label: "y", Categorical: []Categorical{{"b", []string{"low", "mid"}}}},
			`datasets: bad CSV: t.csv: line 3, column "b": "high" is not one of its declared levels (low, mid); add it to the schema's levels`},
		{"drop an unknown column", "a,y\n1,0\n", CSVOptions{Label: "y", Drop: []string{"site"}},
			`datasets: bad CSV: t.csv: no column "site" to drop (columns: a, y)`},
		{"categorical without levels", "a,b,y\n1,x,0\n", CSVOptions{Label: "y", Categorical: []Categorical{{"b", nil}}},
			`datasets: bad CSV: t.csv: categorical column "b" has no levels`},
		{"one-class label", "a,y\n1,1\n2,1\n", CSVOptions{Label: "y"},
			`datasets: bad CSV: t.csv: label column "y" has only one value ("1"); a binary label needs two`},
		{"three classes", "a,y\n1,0\n2,1\n3,2\n", CSVOptions{Label: "y"},
			`datasets: bad CSV: t.csv: label column "y" has 3 values (0, 1, 2); a binary label needs exactly two`},
		{"missing site column", "a,y\n1,0\n2,1\n", CSVOptions{Label: "y", Site: "site"},
			`datasets: bad CSV: t.csv: no column "site" (columns: a, y); name the site column with --site`},
		{"no label named", "a,y\n1,0\n", CSVOptions{},
			"datasets: bad CSV: t.csv: no label column named; give it with --label"},
		{"bad missing policy", "a,y\n1,0\n", CSVOptions{Label: "y", Missing: "zero"},
			`datasets: bad CSV: t.csv: missing-value policy "zero" unknown (known: drop, impute)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCSV([]byte(tt.data), "t.csv", tt.opt)
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrCSV) {
				t.Fatalf("error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestCSVMissingAndLabels(t *testing.T) {
	data := "age,chol,site,dx\n50,200,a,B\n60,?,a,M\n70,240,b,M\nNA,180,b,B\n55,210,b,\n"
	drop, err := ParseCSV([]byte(data), "h.csv", CSVOptions{Label: "dx", Site: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if drop.Table.Len() != 2 || drop.Positive != "M" || drop.Table.Y[1] != 1 || len(drop.Features) != 2 {
		t.Fatalf("drop: %+v", drop)
	}
	imp, err := ParseCSV([]byte(data), "h.csv", CSVOptions{Label: "dx", Site: "site", Missing: "impute"})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Table.Len() != 4 || imp.Table.X[1][1] != (200+240+180)/3.0 || imp.Table.X[3][0] != 60 || imp.Sites[3] != "b" {
		t.Fatalf("impute: %+v", imp.Table)
	}
	if _, err := ParseCSV([]byte(data), "h.csv", CSVOptions{Label: "dx", Positive: "X"}); err == nil {
		t.Fatal("unknown positive label accepted")
	}
}

func TestPartitions(t *testing.T) {
	d, err := LoadWDBC(sharedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.Len() != 569 || d.Table.Positives() != 212 || len(d.Features) != 30 {
		t.Fatalf("wdbc: %d rows, %d malignant, %d features", d.Table.Len(), d.Table.Positives(), len(d.Features))
	}
	for _, spec := range []string{"iid", "dirichlet:1.0", "dirichlet:0.3"} {
		p, err := ParsePartition(spec, 10)
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Federate(p, 7)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		b, _ := d.Federate(p, 7)
		total := 0
		for i, h := range a.Hospitals {
			total += h.Train.Len() + h.Test.Len()
			if h.Test.Len() == 0 || h.Train.Len() != b.Hospitals[i].Train.Len() {
				t.Fatalf("%s: hospital %d: %d/%d rows, or not reproducible", spec, i, h.Train.Len(), h.Test.Len())
			}
		}
		if total != 569 || len(a.Hospitals) != 10 {
			t.Fatalf("%s: %d hospitals with %d rows in all", spec, len(a.Hospitals), total)
		}
	}
	if _, err := d.Federate(Partition{Kind: "natural"}, 1); !errors.Is(err, ErrPartition) {
		t.Fatalf("natural partition without sites: %v", err)
	}
	if _, err := d.Federate(Partition{Kind: "iid", Hospitals: 200}, 1); !errors.Is(err, ErrPartition) {
		t.Fatalf("200 hospitals of 2 rows: %v", err)
	}
	for _, bad := range []string{"dirichlet:", "dirichlet:-1", "random"} {
		if _, err := ParsePartition(bad, 3); err == nil {
			t.Errorf("partition %q accepted", bad)
		}
	}
}

func TestNaturalPartitionFromCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sites.csv")
	data := "x,site,y\n"
	for i := 0; i < 40; i++ {
		data += []string{"1,north,0\n", "2,north,1\n", "3,south,0\n", "4,south,1\n"}[i%4]
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadCSV(path, CSVOptions{Label: "y", Site: "site"})
	if err != nil {
		t.Fatal(err)
	}
	fed, err := d.Federate(Partition{Kind: "natural"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(fed.Hospitals) != 2 || fed.Hospitals[0].Name != "north" || fed.Hospitals[1].Train.Len()+fed.Hospitals[1].Test.Len() != 20 {
		t.Fatalf("natural partition: %+v", fed.Summary())
	}
}

// TestCSVSchema: with a schema's columns, two hospitals whose files order
// their columns differently, hold a free-text column, and see different
// levels encode alike: the declared columns in the declared order, a
// categorical column as one 0/1 feature per declared level; a dropped
// column is not a feature.
func TestCSVSchema(t *testing.T) {
	opt := CSVOptions{Label: "y", Columns: []string{"age", "smoker"}, Categorical: []Categorical{{"smoker", []string{"no", "yes", "former"}}}}
	a, err := ParseCSV([]byte("age,smoker,note,y\n50,yes,free text,1\n60,no,x,0\n"), "a.csv", opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseCSV([]byte("note,y,smoker,age\nz,0,former,40\nw,1,yes,70\n"), "b.csv", opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"age", "smoker=no", "smoker=yes", "smoker=former"}
	if !slices.Equal(a.Features, want) {
		t.Fatalf("features %v, want %v", a.Features, want)
	}
	if !slices.Equal(b.Features, want) {
		t.Fatalf("b's features %v", b.Features)
	}
	if !slices.Equal(a.Table.X[0], []float64{50, 0, 1, 0}) || !slices.Equal(b.Table.X[0], []float64{40, 0, 0, 1}) {
		t.Errorf("rows %v, %v", a.Table.X[0], b.Table.X[0])
	}
}

func TestCSVDrop(t *testing.T) {
	d, err := ParseCSV([]byte("age,note,y\n50,free text,1\n60,x,0\n"), "a.csv", CSVOptions{Label: "y", Drop: []string{"note"}})
	if err != nil || !slices.Equal(d.Features, []string{"age"}) {
		t.Fatalf("%v %v", d, err)
	}
}
