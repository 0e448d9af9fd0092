package aggregator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestFedAvgTable(t *testing.T) {
	tests := []struct {
		name    string
		updates []Update
		want    []int64
		err     error
	}{
		{"single", []Update{{Values: []int64{1, -2, 3}, Weight: 7}}, []int64{1, -2, 3}, nil},
		{"weighted", []Update{{Values: []int64{10, -20}, Weight: 3}, {Values: []int64{30, 40}, Weight: 1}}, []int64{15, -5}, nil},
		{"half away from zero", []Update{{Values: []int64{1, -1, 2}, Weight: 1}, {Values: []int64{2, -2, 2}, Weight: 1}}, []int64{2, -2, 2}, nil},
		{"below half rounds toward zero", []Update{{Values: []int64{1, -1}, Weight: 2}, {Values: []int64{2, -2}, Weight: 1}}, []int64{1, -1}, nil},
		{"zero weight ignored", []Update{{Values: []int64{100}, Weight: 0}, {Values: []int64{4}, Weight: 5}}, []int64{4}, nil},
		{"128-bit path", []Update{{Values: []int64{math.MaxInt64, math.MinInt64}, Weight: 1 << 40}, {Values: []int64{math.MaxInt64, math.MinInt64}, Weight: 3}}, []int64{math.MaxInt64, math.MinInt64}, nil},
		{"128-bit mixed signs", []Update{{Values: []int64{math.MaxInt64, -5}, Weight: 1 << 61}, {Values: []int64{-math.MaxInt64, 5}, Weight: 1 << 61}}, []int64{0, 0}, nil},
		{"no updates", nil, nil, ErrNoUpdates},
		{"shape", []Update{{Values: []int64{1}, Weight: 1}, {Values: []int64{1, 2}, Weight: 1}}, nil, ErrShape},
		{"all zero weight", []Update{{Values: []int64{1}, Weight: 0}}, nil, ErrZeroWeight},
		{"weight overflow", []Update{{Values: []int64{1}, Weight: math.MaxUint64}, {Values: []int64{1}, Weight: 2}}, nil, ErrZeroWeight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FedAvg(tt.updates)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFedAvgPathsAgree checks that the int64 fast path and the 128-bit path
// give the same answer where both apply.
func TestFedAvgPathsAgree(t *testing.T) {
	r := splitmix(99)
	for trial := 0; trial < 200; trial++ {
		n, d := 1+int(r.next()%9), 1+int(r.next()%17)
		ups := randomUpdates(&r, n, d, 1<<30, 1000)
		fast, err := FedAvg(ups)
		if err != nil {
			t.Fatal(err)
		}
		var total uint64
		for _, u := range ups {
			total += u.Weight
		}
		for j := 0; j < d; j++ {
			var acc int128
			for _, u := range ups {
				acc = acc.add(mul64(u.Values[j], u.Weight))
			}
			if slow := acc.divRound(total); slow != fast[j] {
				t.Fatalf("trial %d coord %d: fast %d, 128-bit %d", trial, j, fast[j], slow)
			}
		}
	}
}

func TestAddSaturating(t *testing.T) {
	got, err := AddSaturating([]int64{1, math.MaxInt32 - 1, math.MinInt32 + 1, math.MaxInt64}, []int64{2, 5, -5, 1}, math.MinInt32, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{3, math.MaxInt32, math.MinInt32, math.MaxInt32}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := AddSaturating([]int64{1}, nil, 0, 1); !errors.Is(err, ErrShape) {
		t.Fatalf("err = %v, want ErrShape", err)
	}
}

func TestRuleByName(t *testing.T) {
	r, err := RuleByName("fedavg")
	if err != nil || r.Name() != "fedavg" {
		t.Fatalf("RuleByName(fedavg) = %v, %v", r, err)
	}
	if _, err := RuleByName("krum?"); !errors.Is(err, ErrUnknownRule) {
		t.Fatalf("err = %v, want ErrUnknownRule", err)
	}
	res, err := r.Aggregate([]Update{{Values: []int64{2}, Weight: 1}, {Values: []int64{4}, Weight: 3}})
	if err != nil || !reflect.DeepEqual(res.Values, []int64{4}) || !reflect.DeepEqual(res.Weights, []uint64{1, 3}) {
		t.Fatalf("Aggregate = %+v, %v", res, err)
	}
}

// TestGolden pins the exact output of every rule on fixed inputs. The inputs
// come from a fixed integer generator, so the vectors are the same on every
// architecture; run with -update to rewrite testdata/golden.txt after an
// intended change of a rule.
func TestGolden(t *testing.T) {
	cases := []struct {
		name     string
		n, d     int
		maxAbs   int64
		maxW     uint64
		seed     uint64
		ruleName string
	}{
		{"fedavg-small", 4, 13, 1 << 16, 300, 1, "fedavg"},
		{"fedavg-int32", 10, 1000, math.MaxInt32, 100000, 2, "fedavg"},
		{"fedavg-int64-128bit", 7, 257, math.MaxInt64, math.MaxUint32, 3, "fedavg"},
	}
	var b strings.Builder
	for _, c := range cases {
		r := splitmix(c.seed)
		ups := randomUpdates(&r, c.n, c.d, c.maxAbs, c.maxW)
		rule, err := RuleByName(c.ruleName)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rule.Aggregate(ups)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&b, "%s %s\n", c.name, hashValues(res.Values))
	}
	checkGolden(t, "golden.txt", b.String())
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./aggregator -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("golden mismatch in %s:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func hashValues(v []int64) string {
	h := sha256.New()
	var buf [8]byte
	for _, x := range v {
		binary.LittleEndian.PutUint64(buf[:], uint64(x))
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// splitmix is SplitMix64: a fixed integer generator for test inputs.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func randomUpdates(r *splitmix, n, d int, maxAbs int64, maxW uint64) []Update {
	ups := make([]Update, n)
	for i := range ups {
		vals := make([]int64, d)
		for j := range vals {
			m := uint64(maxAbs)
			v := int64(r.next() % (m + 1))
			if r.next()&1 == 1 {
				v = -v
			}
			vals[j] = v
		}
		ups[i] = Update{Values: vals, Weight: 1 + r.next()%maxW}
	}
	return ups
}

// TestDivider checks the reciprocal division against hardware division.
func TestDivider(t *testing.T) {
	r := splitmix(8)
	ds := []uint64{1, 2, 3, 5, 7, 10, 641, 1<<32 - 1, 1 << 32, 1<<32 + 1, 1<<63 - 1, 1 << 63, 1<<63 + 1, math.MaxUint64}
	for i := 0; i < 200; i++ {
		ds = append(ds, r.next()>>(r.next()%64)|1, r.next()>>(r.next()%64)+1)
	}
	for _, d := range ds {
		v := newDivider(d)
		ns := []uint64{0, 1, d - 1, d, d + 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
		for k := 0; k < 50; k++ {
			ns = append(ns, r.next()>>(r.next()%64))
		}
		for _, n := range ns {
			if got, want := v.div(n), n/d; got != want {
				t.Fatalf("%d / %d = %d, want %d", n, d, got, want)
			}
		}
		if d <= math.MaxInt64 {
			for _, s := range []int64{0, 7, -7, math.MaxInt64, math.MinInt64 + 1, int64(d / 2), -int64(d / 2)} {
				if got, want := v.roundDiv(s), divRound64(s, d); got != want {
					t.Fatalf("roundDiv(%d, %d) = %d, want %d", s, d, got, want)
				}
			}
		}
	}
}
