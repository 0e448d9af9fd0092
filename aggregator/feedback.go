package aggregator

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
)

// Validation feedback: each hospital scores the other hospitals' updates
// of the previous round on its own rows (the loss with the update less the
// loss with its opposite; positive is "harmful"), and the chain judges
// each update against the round's typical one.
//
// The judgment, in a round where at least three updates have MinScorers
// scores or more:
//
//  1. Credibility. For each update, the round's verdict is the sign of
//     the median of its scores. A scorer whose verdicts contradict the
//     round's on more than half of the updates it scored is not counted
//     this round. A scorer that lies wholesale (every honest update
//     harmful, its allies' helpful), or that scores on corrupted rows
//     (a label-flipper), contradicts most verdicts and drops out. An
//     honest scorer near the federation's optimum, where verdicts are
//     close calls, may drop out too; that costs power, not false alarms.
//  2. Of an update's m counted scores (credible scorers with an opinion:
//     0 is none), h say harmful. The round's typical
//     harm rate p₀ is the upper median, over the judged updates, of
//     (h+1)/(m+2) (a smoothed share: never 0 or 1). A federation still
//     learning a shared direction has p₀ near 0; one near its optimum,
//     where every hospital's step helps some and hurts others, has p₀
//     near ½ or above, and little stands out.
//  3. A round judges only while its typical update helps most hospitals
//     (p₀ < ½). Once the typical update hurts as many scorers as it helps,
//     the hospitals no longer share a direction to be harmed: every step
//     pulls towards its own patients, and a hospital whose patients differ
//     most hurts nearly everyone, honestly.
//  4. The update is harmful when most of its counted scorers found it
//     harmful (h > m/2: an update that hurts a minority is a hospital
//     whose patients differ from theirs) and P(Binomial(m, p₀) ≥ h), the
//     chance that an update like the round's typical one draws as many
//     harmful verdicts, is at most 1/100; strongly harmful when it is at
//     most 1/1,000.
//
// The test is exact (integers and math/big; no floating point). The
// reputation penalties make one strongly harmful judgment, or two harmful
// ones close together, flag a hospital (reputation.go). Under the test's
// assumption (an honest update's verdicts are like the typical update's,
// independently across rounds) the chance that an honest hospital is
// flagged in a task of R rounds is at most R/1,000 + R(R−1)/20,000 (1.45 %
// for R = 10; the union bound over rounds and pairs of rounds). A minority of
// scorers who lie only where it matters (an honest target harmful, their
// allies helpful) stay counted and add their votes: docs/robustness.md
// says what that costs.

// Feedback is what the other hospitals said of one member's update.
type Feedback struct {
	Round uint32 // the round of the update judged
	// Scorers are the scorers' indexes (members), Scores their verdicts,
	// one per scorer (> 0 means harmful).
	Scorers []int
	Scores  []int64 // 0: no opinion, not counted
}

// MinScorers is the fewest scores an update needs to be judged.
const MinScorers = 3

// A judgment is at one of two levels, each a bound on the chance that an
// update like the round's typical one draws as many harmful verdicts.
const (
	harmsDen       = 100  // harmful: at most 1 in 100
	harmsStrongDen = 1000 // strongly harmful: at most 1 in 1,000
)

// test is the binomial test's outcome for one update.
type test struct {
	harmed, counted int // harmful verdicts of credible scorers; credible scorers
	p0num, p0den    uint64
	num, den        *big.Int // P(Binomial(counted, p₀) ≥ harmed)
}

// verdict is the judgment of one member's update.
type verdict struct {
	scorers int
	test
	level int // 0, 1 harmful, 2 strongly harmful
}

// judge returns each member's verdict (zero for members without feedback).
func judge(members []Member) []verdict {
	out := make([]verdict, len(members))
	var judged []int
	for i, m := range members {
		if f := m.Feedback; f != nil && len(f.Scorers) >= MinScorers && len(f.Scores) == len(f.Scorers) {
			judged = append(judged, i)
			out[i].scorers = len(f.Scorers)
		}
	}
	// A typical update needs company: with fewer than three judged, the
	// median is one of those being judged.
	if len(judged) < 3 {
		return out
	}
	tests := judgeTest(members, judged)
	for k, i := range judged {
		v := &out[i]
		v.test = tests[k]
		if 2*v.p0num >= v.p0den {
			continue // step 3: no shared direction to harm
		}
		if 2*v.harmed <= v.counted {
			continue // most found it harmless: a hospital whose patients differ
		}
		switch {
		case atMost(v.test, harmsStrongDen):
			v.level = 2
		case atMost(v.test, harmsDen):
			v.level = 1
		}
	}
	return out
}

// atMost reports whether the test's tail is at most 1/den.
func atMost(r test, den int64) bool {
	return new(big.Int).Mul(r.num, big.NewInt(den)).Cmp(r.den) <= 0
}

// judgeTest runs the test over the judged members' scores.
func judgeTest(members []Member, judged []int) []test {
	sign := func(v int64) int {
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return 0
	}
	// 1. The round's verdict on each update, and each scorer's contradictions.
	scored, contra := make([]int, len(members)), make([]int, len(members))
	for _, i := range judged {
		f := members[i].Feedback
		s := slices.Clone(f.Scores)
		slices.Sort(s)
		n := len(s)
		round := sign(s[(n-1)/2]) + sign(s[n/2]) // the median's sign, ties 0
		for k, v := range f.Scores {
			j := f.Scorers[k]
			if j < 0 || j >= len(members) {
				continue
			}
			scored[j]++
			if sv := sign(v); round != 0 && sv != 0 && (sv > 0) != (round > 0) {
				contra[j]++
			}
		}
	}
	credible := func(j int) bool { return j >= 0 && j < len(members) && 2*contra[j] <= scored[j] }
	// 2. The counted votes and the typical harm rate.
	out := make([]test, len(judged))
	type share struct{ num, den uint64 }
	shares := make([]share, len(judged))
	for k, i := range judged {
		f, r := members[i].Feedback, &out[k]
		for q, x := range f.Scores {
			if x != 0 && credible(f.Scorers[q]) {
				r.counted++
				if x > 0 {
					r.harmed++
				}
			}
		}
		shares[k] = share{uint64(r.harmed + 1), uint64(r.counted + 2)}
	}
	sorted := slices.Clone(shares)
	sort.Slice(sorted, func(a, b int) bool {
		x, y := sorted[a], sorted[b]
		if l, r := x.num*y.den, y.num*x.den; l != r {
			return l < r
		}
		return x.den < y.den
	})
	p0 := sorted[len(sorted)/2]
	// 3. The tails.
	for k := range out {
		r := &out[k]
		r.p0num, r.p0den = p0.num, p0.den
		r.num, r.den = binomialTail(r.counted, r.harmed, p0.num, p0.den)
	}
	return out
}

// reason says why a verdict costs reputation.
func (v verdict) reason(round uint32) string {
	bound := "1%"
	if v.level == 2 {
		bound = "0.1%"
	}
	return fmt.Sprintf("harms: its round %d update was worse than its opposite for %d of %d credible scorers (of %d), where the round's typical update was for %s; chance %s, under %s",
		round, v.harmed, v.counted, v.scorers, decimal(v.p0num, v.p0den, 2), bigDecimal(v.num, v.den, 5), bound)
}

// binomialTail returns P(Binomial(n, a/b) ≥ k) as num/den, exactly:
// Σ_{i≥k} C(n,i)·aⁱ·(b−a)ⁿ⁻ⁱ over bⁿ. It needs 0 < a < b. Each term comes
// from the one before by an exact division, so a tail costs O(n) big
// multiplications.
func binomialTail(n, k int, a, b uint64) (num, den *big.Int) {
	B := new(big.Int).SetUint64(b)
	den = new(big.Int).Exp(B, big.NewInt(int64(n)), nil)
	if k <= 0 {
		return new(big.Int).Set(den), den
	}
	if k > n {
		return new(big.Int), den
	}
	A, C := new(big.Int).SetUint64(a), new(big.Int).SetUint64(b-a)
	// T_k = C(n,k)·a^k·c^(n−k); T_{i+1} = T_i·(n−i)·a / ((i+1)·c).
	term := new(big.Int).Binomial(int64(n), int64(k))
	term.Mul(term, new(big.Int).Exp(A, big.NewInt(int64(k)), nil))
	term.Mul(term, new(big.Int).Exp(C, big.NewInt(int64(n-k)), nil))
	num = new(big.Int).Set(term)
	step := new(big.Int)
	for i := k; i < n; i++ {
		term.Mul(term, step.SetInt64(int64(n-i)))
		term.Mul(term, A)
		term.Quo(term, step.Mul(step.SetInt64(int64(i+1)), C))
		num.Add(num, term)
	}
	return num, den
}

// bigDecimal formats num/den (0 ≤ num ≤ den) with the given decimals,
// rounded half up.
func bigDecimal(num, den *big.Int, decimals int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	q := new(big.Int).Mul(num, scale)
	q.Mul(q, big.NewInt(2))
	q.Add(q, den)
	q.Quo(q, new(big.Int).Mul(den, big.NewInt(2)))
	return decimal(q.Uint64(), scale.Uint64(), decimals)
}
