package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/fedledger/fedledger/fl/sim"
)

// The acceptance lines a defence is held to (issue #10's; docs/robustness.md,
// "The acceptance lines"), each judged over a bench's rows for one rule:
//
//   - clean runs: no honest hospital flagged in any run;
//   - clean runs: the rule's accuracy within 1 point of clean FedAvg;
//   - every attack: accuracy within 2 points of clean FedAvg;
//   - every attack: at most 1 % of honest hospital-runs flagged;
//   - every attack not built to evade (sim.Adaptive): at least 95 % of
//     its attackers flagged by round 5;
//   - every attack built to evade: flagged as above, or harmless (within
//     the same 2 points); its flag rate is reported either way.
//
// The line "within 2 points" also gives the yardstick's own reach: FedAvg
// over the honest hospitals alone against clean FedAvg, the mean over the
// rule's seeds (rows that carry it). Excluding exactly the attackers from
// the first round gets FedAvg no further than that, so where it is itself
// more than 2 points under, the line asks the rule to beat FedAvg on the
// honest hospitals, not only to exclude well, and the detail says so.
//
// Accuracies are compared as the table prints them, as means over seeds
// rounded to three decimals, so that a line never fails on a digit the
// table does not show.
const (
	cleanPoints    = 0.01 // clean: within 1 point of FedAvg
	attackedPoints = 0.02 // attacked: within 2 points of clean FedAvg
	honestRate     = 0.01 // attacked: honest hospital-runs flagged, at most
	flaggedRate    = 0.95 // attackers flagged by round 5, at least
)

// Criterion is one acceptance line judged over a bench's rows.
type Criterion struct {
	Rule  string `json:"rule"`
	Line  string `json:"line"`
	Holds bool   `json:"holds"`
	// Detail gives the figures: a count, or the rows that fail and why.
	Detail string `json:"detail"`
}

// Criteria judges the acceptance lines for every rule in rows but fedavg
// (which has no reputation and flags nobody), in the order rules first
// appear. A line with no rows to judge (no clean run, no attack of its
// kind) is left out rather than called held.
func Criteria(rows []AttackRow) []Criterion {
	keys, m := groupAttackRows(rows)
	var rules []string
	attacks := map[string][]string{} // a rule's attacks, "none" included
	for _, k := range keys {
		if k.r == "fedavg" {
			continue
		}
		if attacks[k.r] == nil {
			rules = append(rules, k.r)
		}
		attacks[k.r] = append(attacks[k.r], k.a)
	}
	var out []Criterion
	for _, rule := range rules {
		add := func(line string, holds bool, detail string) {
			out = append(out, Criterion{Rule: rule, Line: line, Holds: holds, Detail: detail})
		}
		if c := m[attackKey{"none", rule}]; c != nil {
			add("clean runs: no honest hospital flagged", c.honF == 0,
				fmt.Sprintf("%d of %d honest hospital-runs flagged", c.honF, c.honT))
			d := meanDiff(c.diff)
			add("clean runs: within 1 point of clean FedAvg", atLeast(d, -cleanPoints), fmt.Sprintf("%+.3f", d))
		}
		var harm, honest, caught, evade tally
		for _, a := range attacks[rule] {
			if a == "none" {
				continue
			}
			c := m[attackKey{a, rule}]
			d := meanDiff(c.diff)
			harm.add(atLeast(d, -attackedPoints), fmt.Sprintf("%s %+.3f", a, d))
			honest.add(float64(c.honF) <= honestRate*float64(c.honT),
				fmt.Sprintf("%s %d of %d", a, c.honF, c.honT))
			rate := share(c.by5, c.malT)
			flagged := rate >= flaggedRate
			if sim.Adaptive(a) {
				harmless := atLeast(d, -attackedPoints)
				note := fmt.Sprintf("%s %.0f %% flagged, %+.3f", a, 100*rate, d)
				if !flagged && !harmless {
					note += " (evades and harms)"
				}
				evade.add(flagged || harmless, note)
				continue
			}
			caught.add(flagged, fmt.Sprintf("%s %.0f %%", a, 100*rate))
		}
		if harm.n > 0 {
			add("attacked: within 2 points of clean FedAvg", harm.ok == harm.n, harm.detail("attacks")+reach(rows, rule))
			add("attacked: at most 1 % of honest hospital-runs flagged", honest.ok == honest.n, honest.detail("attacks"))
		}
		if caught.n > 0 {
			add("attacked: 95 % of attackers flagged by round 5 (attacks not built to evade)", caught.ok == caught.n, caught.detail("attacks"))
		}
		if evade.n > 0 {
			add("attacked: attacks built to evade are flagged or harmless", evade.ok == evade.n, strings.Join(evade.all, "; "))
		}
	}
	return out
}

// reach is the detail's note on how far FedAvg over the honest hospitals
// alone gets against clean FedAvg: the mean over rule's seeds, once a
// seed, of rows that carry both; "" when none does.
func reach(rows []AttackRow, rule string) string {
	seen := map[uint64]bool{}
	var diffs []float64
	for _, r := range rows {
		if r.Rule != rule || r.HonestFedAvg <= 0 || r.FedAvgClean <= 0 || seen[r.Seed] {
			continue
		}
		seen[r.Seed] = true
		diffs = append(diffs, r.HonestFedAvg-r.FedAvgClean)
	}
	if len(diffs) == 0 {
		return ""
	}
	d := meanDiff(diffs)
	s := fmt.Sprintf("; honest-only FedAvg %+.3f", d)
	if !atLeast(d, -attackedPoints) {
		s += " (under the line itself: excluding exactly the attackers does not reach it)"
	}
	return s
}

// tally counts the rows a line judges and keeps their notes, all and
// the failing ones'.
type tally struct {
	n, ok      int
	all, fails []string
}

func (t *tally) add(ok bool, note string) {
	t.n++
	t.all = append(t.all, note)
	if ok {
		t.ok++
		return
	}
	t.fails = append(t.fails, note)
}

// detail is "k of n attacks" and, when some fail, which.
func (t *tally) detail(what string) string {
	s := fmt.Sprintf("%d of %d %s", t.ok, t.n, what)
	if len(t.fails) > 0 {
		s += "; fails: " + strings.Join(t.fails, ", ")
	}
	return s
}

// meanDiff is the mean of diffs rounded to three decimals, as the table
// prints it.
func meanDiff(diffs []float64) float64 {
	mean, _, _, _ := interval(diffs)
	return math.Round(mean*1000) / 1000
}

// atLeast compares two three-decimal values without a floating-point
// near miss deciding the line.
func atLeast(x, bound float64) bool { return math.Round(x*1000) >= math.Round(bound*1000) }

// share is x/n, or 0 for n = 0.
func share(x, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n)
}

// FormatCriteria prints the lines, one a row: holds or fails, the line,
// its figures.
func FormatCriteria(cs []Criterion) string {
	if len(cs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Acceptance lines (docs/robustness.md), means over seeds:\n")
	for _, c := range cs {
		verdict := "holds"
		if !c.Holds {
			verdict = "FAILS"
		}
		fmt.Fprintf(&b, "  %-6s %-8s %-75s %s\n", c.Rule, verdict, c.Line, c.Detail)
	}
	return b.String()
}
