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
//  4. Honest hospitals differ: each update has its own harm rate, and
//     the votes on one update are not independent coin flips at p₀. The
//     spread between updates is estimated from the round's shares, robustly
//     (their median absolute deviation from p₀, so that fewer than half of
//     the updates cannot widen it, less the binomial part a typical update's
//     m votes explain), as the intra-class correlation ρ of a beta-binomial
//     with mean p₀ (spread). With ρ = 0 the test is the binomial.
//  5. The update is harmful when most of its counted scorers found it
//     harmful (h > m/2: an update that hurts a minority is a hospital
//     whose patients differ from theirs) and P(BetaBinomial(m, p₀, ρ) ≥ h),
//     the chance that an honest update from the round's spread draws as many
//     harmful verdicts, is at most 1/100; strongly harmful when it is at
//     most 1/1,000.
//
// The test is exact (integers and math/big; no floating point). The
// reputation penalties make one strongly harmful judgment, or two harmful
// ones close together, flag a hospital (reputation.go). Under the test's
// assumption (an honest update's harm rate is drawn from the round's
// spread) an honest hospital is judged harmful in a round with chance at
// most 1/100. Across rounds a hospital keeps its patients, so its
// judgments repeat: the union bound over rounds, R/100 in a task of R
// rounds, is what the test promises; were the rounds independent it would
// be R/1,000 + R(R−1)/20,000 (1.45 % for R = 10). Three of ten hospitals
// whose patients differ from the other seven as much as label-flippers'
// would are, to this test, three label-flippers. A minority of scorers who
// lie only where it matters (an honest target harmful, their allies
// helpful) stay counted and add their votes: docs/robustness.md says what
// that costs.

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
	rho             int64    // the spread between updates, in millionths (beta-binomial ρ)
	num, den        *big.Int // P(BetaBinomial(counted, p₀, ρ) ≥ harmed); nil unless judge needed it
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
			continue // 3: no shared direction to harm
		}
		if 2*v.harmed <= v.counted {
			continue // most found it harmless: a hospital whose patients differ
		}
		v.num, v.den = betaBinomialTail(v.counted, v.harmed, v.p0num, v.p0den, v.rho)
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
	// 4. The spread between updates, robustly: the shares' median absolute
	// deviation from p₀, less what the scorers' own sampling explains.
	rat := func(num, den uint64) *big.Rat {
		return new(big.Rat).SetFrac(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den))
	}
	counts := make([]int, len(out))
	fracs := make([]*big.Rat, len(shares))
	for k, sh := range shares {
		counts[k] = out[k].counted
		fracs[k] = rat(sh.num, sh.den)
	}
	slices.Sort(counts)
	rho := spread(fracs, rat(p0.num, p0.den), counts[len(counts)/2])
	for k := range out {
		out[k].p0num, out[k].p0den, out[k].rho = p0.num, p0.den, rho
	}
	return out // 5, the tails: judge computes those it may call harmful
}

// madScale is the median absolute deviation's factor for a standard
// deviation (1/Φ⁻¹(¾), the normal's), to four places.
var madScale = big.NewRat(14826, 10000)

// spread returns the intra-class correlation ρ of the updates' harm rates,
// in millionths, rounded down, in [0, 999,999]: the variance the shares
// show around p₀ (the median absolute deviation, scaled to a standard
// deviation, so that fewer than half of the updates cannot widen it),
// less the binomial variance p₀(1−p₀)/m of a typical update's m scores,
// over p₀(1−p₀). ρ = 0 says every update harms a scorer as often as the
// typical one, and the test is the binomial; the larger ρ, the more
// honest updates differ from each other, and the more harmful verdicts an
// update needs to stand out.
func spread(shares []*big.Rat, p0 *big.Rat, m int) int64 {
	dev := make([]*big.Rat, len(shares))
	for k, s := range shares {
		dev[k] = new(big.Rat).Sub(s, p0)
		dev[k].Abs(dev[k])
	}
	slices.SortFunc(dev, func(a, b *big.Rat) int { return a.Cmp(b) })
	sd := new(big.Rat).Mul(dev[len(dev)/2], madScale) // upper median
	v := new(big.Rat).Mul(sd, sd)
	pq := new(big.Rat).Sub(big.NewRat(1, 1), p0)
	pq.Mul(pq, p0)
	if pq.Sign() <= 0 || m < 1 {
		return 0
	}
	rho := v.Quo(v, pq)
	rho.Sub(rho, big.NewRat(1, int64(m)))
	rho.Mul(rho, big.NewRat(1_000_000, 1))
	q := new(big.Int).Quo(rho.Num(), rho.Denom()) // truncates toward zero
	switch {
	case rho.Sign() <= 0:
		return 0
	case q.Cmp(big.NewInt(999_999)) > 0:
		return 999_999
	}
	return q.Int64()
}

// betaBinomialTail returns P(X ≥ k) as num/den, exactly, for X beta-
// binomial over n trials with mean a/b and intra-class correlation
// rho/10⁶ (0 ≤ rho < 10⁶; 0 is the binomial). With α = A/D, β = B/D
// (α+β = (1−ρ)/ρ), P(X = i) = C(n,i)·Π_{j<i}(A+jD)·Π_{j<n−i}(B+jD) over
// Π_{j<n}(A+B+jD). It needs 0 < a < b.
func betaBinomialTail(n, k int, a, b uint64, rho int64) (num, den *big.Int) {
	if rho <= 0 {
		return binomialTail(n, k, a, b)
	}
	const million = 1_000_000
	D := new(big.Int).Mul(new(big.Int).SetUint64(b), big.NewInt(rho))
	A := new(big.Int).Mul(new(big.Int).SetUint64(a), big.NewInt(million-rho))
	B := new(big.Int).Mul(new(big.Int).SetUint64(b-a), big.NewInt(million-rho))
	AB := new(big.Int).Add(A, B)
	den = big.NewInt(1)
	x := new(big.Int)
	for j := range n {
		den.Mul(den, x.Add(AB, x.Mul(D, big.NewInt(int64(j)))))
	}
	if k <= 0 {
		return new(big.Int).Set(den), den
	}
	if k > n {
		return new(big.Int), den
	}
	// T_k = C(n,k)·Π_{j<k}(A+jD)·Π_{j<n−k}(B+jD);
	// T_{i+1} = T_i·(n−i)·(A+iD) / ((i+1)·(B+(n−i−1)D)), an exact division.
	term := new(big.Int).Binomial(int64(n), int64(k))
	for j := range k {
		term.Mul(term, x.Add(A, x.Mul(D, big.NewInt(int64(j)))))
	}
	for j := range n - k {
		term.Mul(term, x.Add(B, x.Mul(D, big.NewInt(int64(j)))))
	}
	num = new(big.Int).Set(term)
	y := new(big.Int)
	for i := k; i < n; i++ {
		term.Mul(term, big.NewInt(int64(n-i)))
		term.Mul(term, x.Add(A, x.Mul(D, big.NewInt(int64(i)))))
		y.Mul(big.NewInt(int64(i+1)), y.Add(B, y.Mul(D, big.NewInt(int64(n-i-1)))))
		term.Quo(term, y)
		num.Add(num, term)
	}
	return num, den
}

// reason says why a verdict costs reputation.
func (v verdict) reason(round uint32) string {
	bound := "1%"
	if v.level == 2 {
		bound = "0.1%"
	}
	return fmt.Sprintf("harms: its round %d update was worse than its opposite for %d of %d credible scorers (of %d), where the round's typical update was for %s, spread ρ %s; chance %s, under %s",
		round, v.harmed, v.counted, v.scorers, decimal(v.p0num, v.p0den, 2), decimal(uint64(v.rho), 1_000_000, 2), bigDecimal(v.num, v.den, 5), bound)
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
