package aggregator

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func ups(vals ...[]int64) []Update {
	var out []Update
	for _, v := range vals {
		out = append(out, Update{Values: v, Weight: 1})
	}
	return out
}

func TestRobustRulesSmall(t *testing.T) {
	honest := [][]int64{{10, 20}, {12, 18}, {11, 22}, {9, 19}, {10, 21}}
	attack := append(append([][]int64{}, honest...), []int64{1000, -1000}, []int64{900, -900})
	cases := []struct {
		name string
		run  func([]Update) ([]int64, error)
		want []int64
	}{
		{"median", Median, []int64{11, 19}},
		{"huber", Huber, []int64{11, 19}},
		{"clipped huber", func(u []Update) ([]int64, error) { return ClippedHuber(u, 25) }, []int64{11, 19}},
		{"trimmed", func(u []Update) ([]int64, error) { return TrimmedMean(u, 300_000) }, []int64{11, 19}},
		{"multikrum", func(u []Update) ([]int64, error) { r, err := MultiKrum(u, 2, 5); return r.Values, err }, []int64{10, 20}},
		{"normclip", func(u []Update) ([]int64, error) { return NormClip(u, 25) }, []int64{13, 9}},
		{"centeredclip", func(u []Update) ([]int64, error) { return CenteredClip(u, 30, 5) }, []int64{19, 11}},
	}
	for _, c := range cases {
		got, err := c.run(ups(attack...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
		fedavg, _ := FedAvg(ups(attack...))
		if math.Abs(float64(got[0]-10)) >= math.Abs(float64(fedavg[0]-10)) {
			t.Errorf("%s (%v) is no closer to the honest mean than FedAvg (%v)", c.name, got, fedavg)
		}
	}
	r, _ := MultiKrum(ups(attack...), 2, 5)
	if !reflect.DeepEqual(r.Weights, []uint64{1, 1, 1, 1, 1, 0, 0}) {
		t.Errorf("Multi-Krum weights %v: it must exclude exactly the two attackers", r.Weights)
	}
	if _, err := MultiKrum(ups(honest...), 2, 3); err == nil {
		t.Error("Multi-Krum accepted n ≤ 2f+2")
	}
	if got, _ := Median(ups([]int64{1}, []int64{2})); got[0] != 2 {
		t.Errorf("median of 1 and 2 = %d, want 2 (half away from zero)", got[0])
	}
}

func TestHuber(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	cases := []struct {
		name string
		col  []int64
		want int64
	}{
		{"one value", []int64{7}, 7},
		{"all equal", []int64{5, 5, 5, 5}, 5},
		{"symmetric: the median", []int64{1, 2, 3}, 2},
		// m 300, MAD 200, c ⌊398.8⌋ = 398; 1000 and 2000 pulled to 698;
		// (−300 −200 −100 +0 +100 +398 +398)/5 = 59.2 → 359: between the
		// median (300) and the mean (571).
		{"skewed: between median and mean", []int64{0, 100, 200, 300, 400, 1000, 2000}, 359},
		// m 11, MAD 1, c 1: (−1 +1 +0 −1 −1 +1 +1)/4 = 0.
		{"two far outliers", []int64{10, 12, 11, 9, 10, 1000, 900}, 11},
		{"more than half equal: the median", []int64{3, 3, 3, -1000, 1000}, 3},
		// Even count: m = mean2(1, 2) = 2 (half away from zero); deviations
		// 1, 0, 2, 2 → MAD mean2(1, 2) = 2, c 3; (−1 +0 −2 +2)/4 → −0.25 → 0.
		{"even count", []int64{1, 2, 0, 4}, 2},
		{"extremes: no overflow", []int64{minI, maxI, 0}, 0},
		// m = mean2(minI+1, maxI−1) = −1 (−½ half away from zero), MAD and
		// c 2⁶³−1; maxI is 2⁶³ from m, outside: (c + c − c − (c−1))/3 → 0.
		{"extremes, even", []int64{maxI, maxI - 1, minI, minI + 1}, -1},
		{"at the top of the range", []int64{maxI - 1, maxI, maxI, 0}, maxI - 1},
		{"all at the bottom", []int64{minI, minI, minI}, minI},
	}
	for _, c := range cases {
		var u []Update
		for _, v := range c.col {
			u = append(u, Update{Values: []int64{v}, Weight: 1})
		}
		got, err := Huber(u)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got[0] != c.want {
			t.Errorf("%s: Huber(%v) = %d, want %d", c.name, c.col, got[0], c.want)
		}
	}
}

// TestClippedHuber: an update's magnitude beyond the clipping norm buys no
// influence, a norm within it is left alone, and a bound that is not
// positive is refused.
func TestClippedHuber(t *testing.T) {
	honest := [][]int64{{10, 20}, {12, 18}, {11, 22}, {9, 19}, {10, 21}, {30, -40}}
	run := func(last []int64) []int64 {
		t.Helper()
		got, err := ClippedHuber(ups(append(honest[:5:5], last)...), 50)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// (30, −40) has norm 50: at the bound, unchanged; ten and a thousand
	// times it are clipped back to it.
	at := run(honest[5])
	for _, k := range []int64{10, 1000} {
		if got := run([]int64{30 * k, -40 * k}); !reflect.DeepEqual(got, at) {
			t.Errorf("%d× the update: %v, want %v (as at the bound)", k, got, at)
		}
	}
	plain, _ := Huber(ups(honest...))
	if !reflect.DeepEqual(at, plain) {
		t.Errorf("updates within the bound: %v, want Huber's %v", at, plain)
	}
	for _, bound := range []int64{0, -1} {
		if _, err := ClippedHuber(ups(honest...), bound); !errors.Is(err, ErrParams) {
			t.Errorf("bound %d: err %v, want ErrParams", bound, err)
		}
	}
}

// TestHuberReference checks the integer estimate against the same formula
// in floating point, and that fewer than half arbitrary values cannot move
// it beyond the honest values' range widened by twice that range (m stays
// within the honest values, c ≤ 1.994·MAD and the step within c).
func TestHuberReference(t *testing.T) {
	r := splitmix(5)
	for trial := range 2000 {
		n := 1 + int(r.next()%12)
		col := make([]float64, n)
		u := make([]Update, n)
		for i := range n {
			v := int64(r.next()%2001) - 1000
			col[i], u[i] = float64(v), Update{Values: []int64{v}, Weight: 1}
		}
		got, _ := Huber(u)
		if want := refHuber(col); math.Abs(float64(got[0])-want) > 1 {
			t.Fatalf("trial %d: Huber(%v) = %d, reference %.3f", trial, col, got[0], want)
		}
		// Poison fewer than half with extreme values.
		bad := int(r.next() % uint64((n+1)/2))
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, x := range u[bad:] {
			lo, hi = min(lo, x.Values[0]), max(hi, x.Values[0])
		}
		for i := range bad {
			u[i].Values = []int64{[]int64{math.MaxInt64, math.MinInt64, 1 << 40}[r.next()%3]}
		}
		got, _ = Huber(u)
		if w := hi - lo; got[0] < lo-2*w || got[0] > hi+2*w {
			t.Fatalf("trial %d: %d of %d poisoned moved Huber to %d, honest range [%d, %d]", trial, bad, n, got[0], lo, hi)
		}
	}
}

// refHuber is Huber's one-step estimate in floating point.
func refHuber(col []float64) float64 {
	med := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return math.Round((s[len(s)/2-1] + s[len(s)/2]) / 2)
	}
	m := med(col)
	dev := make([]float64, len(col))
	for i, v := range col {
		dev[i] = math.Abs(v - m)
	}
	c := math.Floor(med(dev) * 1.994097)
	var sum, inside float64
	for _, v := range col {
		d := v - m
		if math.Abs(d) <= c {
			inside++
			sum += d
		} else {
			sum += math.Copysign(c, d)
		}
	}
	if c == 0 {
		return m
	}
	return m + sum/inside
}

func TestNearDuplicates(t *testing.T) {
	u := ups([]int64{100, 200, 300}, []int64{101, 199, 301}, []int64{-100, 50, 7}, []int64{0, 0, 0}, []int64{0, 0, 0}, []int64{110, 220, 330})
	pairs, err := NearDuplicates(u, SybilDistance)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pairs, [][2]int{{0, 1}}) {
		t.Fatalf("pairs %v, want [[0 1]] (zero updates are never duplicates; 10%% apart is not near)", pairs)
	}
	if c := cosineMicro([]int64{1, 0}, []int64{-1, 0}, 1, 1); c != -1_000_000 {
		t.Fatalf("cosine of opposite vectors %d", c)
	}
}

// TestRunRound: each kind of misbehaviour costs reputation, honest members
// gain, and a flagged member gets zero weight.
func TestRunRound(t *testing.T) {
	h := func(v ...int64) Member {
		return Member{Committed: true, Revealed: true, Update: v, Weight: 10, Score: ScoreStart}
	}
	members := []Member{
		h(100, 200, 300), h(200, 100, 250), h(50, 250, 320), h(150, 150, 150), // honest
		h(-1000, -2000, -3000),           // sign flip, scaled
		h(0, 0, 0),                       // free-rider
		h(7, -500, 900), h(7, -500, 901), // sybils
		{Committed: true, Weight: 10, Score: ScoreStart}, // commit without reveal
		{Score: ScoreStart}, // absent
		{Committed: true, Revealed: true, Update: []int64{300, 10, 40}, Weight: 10, Score: 400_000, Flagged: true},
	}
	rule, _ := RuleByName("median")
	out, err := RunRound(members, rule, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{4: "opposes", 5: "free-rider", 6: "sybil", 7: "sybil", 8: "did not reveal", 9: "absent"}
	for i, c := range out.Changes {
		if w, bad := want[i]; bad {
			if c.Delta >= 0 || !strings.Contains(strings.Join(c.Reasons, ";"), w) {
				t.Errorf("member %d: delta %d reasons %v, want a penalty for %q", i, c.Delta, c.Reasons, w)
			}
		} else if i < 4 && (c.Delta != 0 || len(c.Reasons) != 0) {
			t.Errorf("honest member %d: delta %d reasons %v", i, c.Delta, c.Reasons)
		}
	}
	if out.Weights[10] != 0 || out.Weights[6] != 0 || out.Weights[0] == 0 {
		t.Errorf("weights %v: flagged and sybil members must get 0", out.Weights)
	}
	if !out.Changes[10].Flagged || out.Changes[0].Flagged {
		t.Errorf("flags: %+v", out.Changes)
	}
	// Two rounds of misbehaviour flag a sybil.
	m := members[6]
	m.Score = out.Changes[6].Score
	members[6] = m
	out2, _ := RunRound(members, rule, true, 0)
	if !out2.Changes[6].Flagged {
		t.Errorf("sybil not flagged after two rounds: %+v", out2.Changes[6])
	}
	// Reputation off: plain aggregation, no changes.
	out3, _ := RunRound(members, rule, false, 0)
	if out3.Changes != nil || out3.Used != 8 {
		t.Errorf("reputation off: %d used, changes %v", out3.Used, out3.Changes)
	}
}

// TestRobustGolden pins each rule's exact output on fixed inputs.
func TestRobustGolden(t *testing.T) {
	var b strings.Builder
	r := splitmix(77)
	updates := randomUpdates(&r, 10, 501, 1<<20, 300)
	for _, name := range Rules {
		rule, err := RuleByName(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rule.Aggregate(updates)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fmt.Fprintf(&b, "%s %s %v\n", name, hashValues(res.Values), res.Weights)
	}
	pairs, _ := NearDuplicates(append(updates, updates[3]), SybilDistance)
	fmt.Fprintf(&b, "near-duplicates %v\n", pairs)
	// Alike updates counted once (alike.go): rounds whose last two members
	// send the eighth's update with 5 % noise, compared exactly (501
	// parameters) and through the sketch (3·StreamBlock), and a sketch.
	median, _ := RuleByName("median")
	for _, d := range []int{501, 3 * StreamBlock} {
		ups := randomUpdates(&r, 10, d, 1<<20, 300)
		members := make([]Member, len(ups))
		for i, u := range ups {
			if i >= 8 {
				for j := range u.Values {
					u.Values[j] = ups[7].Values[j] + int64(r.next()%(1<<16)) - 1<<15
				}
			}
			members[i] = Member{Committed: true, Revealed: true, Update: u.Values, Weight: u.Weight, Score: ScoreStart}
		}
		out, err := RunRound(members, median, true, 0x5eed)
		if err != nil {
			t.Fatal(err)
		}
		var deltas []int64
		for _, c := range out.Changes {
			deltas = append(deltas, c.Delta)
		}
		fmt.Fprintf(&b, "alike d=%d %s %v %v\n", d, hashValues(out.Aggregate), out.Weights, deltas)
	}
	sk, tab := make([]int64, AlikeSketch), make([]int32, 501)
	sketchTable(0x5eed, StreamBlock, tab)
	addSketch(sk, updates[0].Values, tab)
	fmt.Fprintf(&b, "sketch %s\n", hashValues(sk))
	checkGolden(t, "robust.txt", b.String())
}

// TestFastPathsExact: profileOf and cosineSmall, the fast paths of a round,
// give exactly what the general code gives, on random vectors and at the
// edges of the ±2^31 range they take.
func TestFastPathsExact(t *testing.T) {
	r := splitmix(11)
	edge := []int64{math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64, 0, -1}
	for trial := 0; trial < 300; trial++ {
		d := 1 + int(r.next()%70)
		a, b := make([]int64, d), make([]int64, d)
		for j := range a {
			switch r.next() % 8 {
			case 0:
				a[j] = edge[r.next()%uint64(len(edge))]
			default:
				a[j] = int64(r.next()%(1<<32)) - 1<<31
			}
			b[j] = int64(r.next()%(1<<32)) - 1<<31
			if trial%5 == 0 {
				b[j] = math.MinInt32 // extreme products
			}
		}
		small := true
		for _, x := range a {
			small = small && x >= math.MinInt32 && x <= math.MaxInt32
		}
		p := profileOf(a)
		if p.norm != norm(a) || p.small != small {
			t.Fatalf("trial %d: profile norm %d small %v, want %d %v (%v)", trial, p.norm, p.small, norm(a), small, a)
		}
		if !small {
			if p.sketch != nil {
				t.Fatalf("trial %d: a large vector got a sketch", trial)
			}
			continue
		}
		for k := range p.sketch {
			var sum int64
			for _, x := range a[k*sketchBlock : min((k+1)*sketchBlock, d)] {
				sum += x
			}
			if p.sketch[k] != sum {
				t.Fatalf("trial %d: sketch[%d] = %d, want %d", trial, k, p.sketch[k], sum)
			}
		}
		na, nb := norm(a), norm(b)
		if na == 0 || nb == 0 {
			continue
		}
		if got, want := cosineSmall(a, b, na, nb), cosineMicro(a, b, na, nb); got != want {
			t.Fatalf("trial %d: cosineSmall %d, cosineMicro %d", trial, got, want)
		}
	}
}
