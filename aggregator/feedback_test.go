package aggregator

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBinomialTail(t *testing.T) {
	for _, c := range []struct {
		n, k int
		a, b uint64
	}{
		{2, 1, 1, 2}, {9, 9, 1, 2}, {7, 7, 2, 9}, {6, 4, 1, 8}, {10, 0, 1, 3}, {10, 3, 3, 10}, {30, 20, 1, 2},
	} {
		num, den := binomialTail(c.n, c.k, c.a, c.b)
		got, _ := new(big.Rat).SetFrac(num, den).Float64()
		p := float64(c.a) / float64(c.b)
		want := 0.0
		for i := c.k; i <= c.n; i++ {
			want += binom(c.n, i) * math.Pow(p, float64(i)) * math.Pow(1-p, float64(c.n-i))
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("P(Bin(%d, %d/%d) ≥ %d) = %v, want %v", c.n, c.a, c.b, c.k, got, want)
		}
	}
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// round builds ten members' feedback: vote(scorer, update) is each
// scorer's score of each other member's update.
func feedbackRound(n int, vote func(scorer, update int) int64) []Member {
	ms := make([]Member, n)
	for j := range ms {
		ms[j].Feedback = &Feedback{Round: 1}
		for s := 0; s < n; s++ {
			if s != j {
				ms[j].Feedback.Scores = append(ms[j].Feedback.Scores, vote(s, j))
				ms[j].Feedback.Scorers = append(ms[j].Feedback.Scorers, s)
			}
		}
	}
	return ms
}

func TestJudge(t *testing.T) {
	bad := func(i int) bool { return i >= 7 } // members 7, 8, 9
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name    string
		vote    func(s, j int) int64
		harmful []int
	}{
		{"early, honest scorers: the attackers harm everyone", func(s, j int) int64 {
			if bad(j) {
				return 500_000
			}
			return -300_000
		}, []int{7, 8, 9}},
		{"early, attackers lie wholesale", func(s, j int) int64 {
			switch {
			case bad(s) && bad(j):
				return -1_000_000
			case bad(s):
				return 1_000_000
			case bad(j):
				return 400_000
			}
			return -200_000
		}, []int{7, 8, 9}},
		{"one honest outlier hurts four scorers of nine", func(s, j int) int64 {
			if j == 0 && s < 5 {
				return 100_000
			}
			return -100_000
		}, nil},
		{"near the optimum: coin flips", func(s, j int) int64 {
			return int64(rng.IntN(2_000_001)) - 1_000_000
		}, nil},
		{"nobody harms", func(s, j int) int64 { return -1 }, nil},
		{"no shared direction: the typical update hurts most, one hurts all", func(s, j int) int64 {
			if j == 0 || s%2 == 0 {
				return 100_000
			}
			return -100_000
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := judge(feedbackRound(10, c.vote))
			var got []int
			for i, v := range out {
				if v.level > 0 {
					got = append(got, i)
				}
			}
			if len(got) != len(c.harmful) {
				t.Fatalf("harmful %v, want %v (%+v)", got, c.harmful, out)
			}
			for k := range got {
				if got[k] != c.harmful[k] {
					t.Fatalf("harmful %v, want %v", got, c.harmful)
				}
			}
		})
	}
}

// A round with fewer than three judged updates, or updates with fewer
// than MinScorers scores, judges nothing; scorer indexes out of range are
// ignored, not a panic.
func TestJudgeTotal(t *testing.T) {
	ms := feedbackRound(3, func(s, j int) int64 { return 1_000_000 })
	for _, v := range judge(ms) {
		if v.level > 0 || v.counted != 0 {
			t.Fatalf("3 members with 2 scores each judged: %+v", v)
		}
	}
	ms = feedbackRound(5, func(s, j int) int64 { return int64(j) })
	ms[0].Feedback.Scorers[0] = 99
	ms[1].Feedback.Scorers = ms[1].Feedback.Scorers[:1] // scores and scorers disagree: unjudged
	judge(ms)
	judge(nil)
	judge([]Member{{}, {Feedback: &Feedback{}}})
}

func TestHarmsReason(t *testing.T) {
	ms := feedbackRound(10, func(s, j int) int64 {
		if j == 9 {
			return 1
		}
		return -1
	})
	for i := range ms {
		ms[i].Committed, ms[i].Revealed, ms[i].Score = true, true, ScoreStart
	}
	e := evidence{members: ms, sybil: make([]bool, 10), weights: make([]uint64, 10)}
	ch := e.score()
	want := "harms: its round 1 update was worse than its opposite for 9 of 9 credible scorers (of 9), where the round's typical update was for 0.09, spread ρ 0.00; chance 0.00000, under 0.1%"
	if len(ch[9].Reasons) != 1 || ch[9].Reasons[0] != want {
		t.Fatalf("reasons %q, want %q", ch[9].Reasons, want)
	}
	if ch[9].Delta != -penHarmsStrong || !ch[9].Flagged || ch[0].Delta != 0 {
		t.Fatalf("deltas %d, %d", ch[9].Delta, ch[0].Delta)
	}
}

// BenchmarkJudge: a round's judgment at the largest federation the chain
// takes by default (protocol's max_hospitals), every hospital scoring
// every other.
func BenchmarkJudge(b *testing.B) {
	for _, n := range []int{10, 100, 256} {
		ms := feedbackRound(n, func(s, j int) int64 {
			if j%10 == 0 {
				return 1
			}
			return int64((s*31+j*17)%7) - 3
		})
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				judge(ms)
			}
		})
		// Harm rates spread from 0 to ½ over the updates: the beta-binomial.
		spreadMs := feedbackRound(n, func(s, j int) int64 {
			if (s*7+j*13)%100 < 50*j/n {
				return 1
			}
			return -1
		})
		if v := judge(spreadMs); v[0].rho == 0 {
			b.Fatal("no spread")
		}
		b.Run(fmt.Sprint(n, "-spread"), func(b *testing.B) {
			for b.Loop() {
				judge(spreadMs)
			}
		})
		// The most tails a round can need: just under half the updates
		// harm most scorers, the others spread from 0 to 0.4.
		worstMs := feedbackRound(n, func(s, j int) int64 {
			if j < (n-1)/2 && (s+j)%10 != 0 || j >= (n-1)/2 && (s*7+j*13)%100 < 40*j/n {
				return 1
			}
			return -1
		})
		if v := judge(worstMs); v[0].num == nil || v[0].rho == 0 {
			b.Fatalf("not the worst case: %+v", v[0])
		}
		b.Run(fmt.Sprint(n, "-worst"), func(b *testing.B) {
			for b.Loop() {
				judge(worstMs)
			}
		})
	}
}

// TestBetaBinomialTail checks the exact tail against a float sum of the
// beta-binomial's terms, and that ρ = 0 is the binomial.
func TestBetaBinomialTail(t *testing.T) {
	for _, c := range []struct {
		n, k int
		a, b uint64
		rho  int64
	}{
		{9, 9, 1, 2, 100_000}, {8, 7, 2, 15, 250_000}, {7, 6, 1, 3, 10}, {10, 0, 1, 3, 500_000},
		{10, 11, 1, 3, 500_000}, {30, 20, 1, 2, 999_999}, {5, 3, 4, 9, 1},
	} {
		num, den := betaBinomialTail(c.n, c.k, c.a, c.b, c.rho)
		got, _ := new(big.Rat).SetFrac(num, den).Float64()
		mu, rho := float64(c.a)/float64(c.b), float64(c.rho)/1e6
		al, be := mu*(1-rho)/rho, (1-mu)*(1-rho)/rho
		lbeta := func(x, y float64) float64 {
			a, _ := math.Lgamma(x)
			b, _ := math.Lgamma(y)
			s, _ := math.Lgamma(x + y)
			return a + b - s
		}
		want := 0.0
		for i := max(c.k, 0); i <= c.n; i++ {
			want += binom(c.n, i) * math.Exp(lbeta(float64(i)+al, float64(c.n-i)+be)-lbeta(al, be))
		}
		if math.Abs(got-want) > 1e-9*max(1, want) {
			t.Errorf("P(BetaBin(%d, %d/%d, ρ %d ppm) ≥ %d) = %v, want %v", c.n, c.a, c.b, c.rho, c.k, got, want)
		}
	}
	bn, bd := betaBinomialTail(9, 7, 1, 3, 0)
	n, d := binomialTail(9, 7, 1, 3)
	if bn.Cmp(n) != 0 || bd.Cmp(d) != 0 {
		t.Fatal("ρ = 0 is not the binomial")
	}
}

// TestSpread: shares that agree give ρ = 0; shares spread wide give a large
// ρ; three outliers of ten (a minority) do not widen it.
func TestSpread(t *testing.T) {
	r := func(num, den int64) *big.Rat { return big.NewRat(num, den) }
	many := func(x *big.Rat, n int) []*big.Rat {
		out := make([]*big.Rat, n)
		for i := range out {
			out[i] = x
		}
		return out
	}
	p0 := r(1, 9)
	if got := spread(many(p0, 10), p0, 7); got != 0 {
		t.Errorf("equal shares: ρ %d, want 0", got)
	}
	attacked := append(many(p0, 7), r(8, 9), r(8, 9), r(8, 9))
	if got := spread(attacked, p0, 7); got != 0 {
		t.Errorf("three outliers of ten: ρ %d, want 0", got)
	}
	wide := []*big.Rat{r(1, 10), r(2, 10), r(3, 10), r(3, 10), r(4, 10), r(5, 10), r(6, 10), r(8, 10), r(9, 10), r(9, 10)}
	if got := spread(wide, r(5, 10), 8); got < 100_000 {
		t.Errorf("wide shares: ρ %d, want a large spread", got)
	}
	if got := spread([]*big.Rat{r(0, 1), r(1, 1)}, r(1, 1), 3); got != 0 {
		t.Errorf("p₀ = 1: ρ %d, want 0", got)
	}
}

// TestOversizedOnlyWithoutFeedback: the norm test judges a task without
// validation feedback; with feedback the verdicts judge, and an update
// 10× the median norm costs nothing by its size.
func TestOversizedOnlyWithoutFeedback(t *testing.T) {
	for _, fb := range []bool{false, true} {
		ms := make([]Member, 5)
		e := evidence{members: ms, sybil: make([]bool, 5), weights: []uint64{1, 1, 1, 1, 1}, aggregated: true, aggNorm: 10,
			revealed: []int{0, 1, 2, 3, 4}, norms: []uint64{10, 11, 9, 10, 100}, cosines: []int64{1e6, 1e6, 1e6, 1e6, 1e6}}
		for i := range ms {
			ms[i].Committed, ms[i].Revealed, ms[i].Score = true, true, ScoreStart
			if fb {
				ms[i].Feedback = &Feedback{Round: 1}
			}
		}
		ch := e.score()
		oversized := len(ch[4].Reasons) == 1 && strings.HasPrefix(ch[4].Reasons[0], "oversized: update norm 10.0×")
		if oversized == fb || (fb && ch[4].Delta != 0) || (!fb && ch[4].Delta != -penOversized) {
			t.Errorf("feedback %v: reasons %q, delta %d", fb, ch[4].Reasons, ch[4].Delta)
		}
	}
}
