package aggregator

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
)

// Reputation scoring, in millionths. Every round, each invited, unflagged
// hospital's score moves by the evidence the chain saw (reasons add up):
//
//	absent      invited, sent nothing                              −0.10
//	unrevealed  committed but never revealed                       −0.40
//	sybil       within 2% of another hospital's update              −0.40
//	free-rider  a zero update                                      −0.40
//	oversized   norm above 4× the median norm (without feedback)   −0.15
//	opposes     cosine with the aggregate below −0.3               −0.25
//	harms       (feedback) most scorers found its previous update
//	            worse than its opposite, and that many would be
//	            rare for an honest update of the round's spread,
//	            while the typical update helps most (feedback.go):
//	            chance at most 1/100                               −0.30
//	            chance at most 1/1,000                             −0.60
//	excluded    left out by the rule (Multi-Krum)                  −0.10
//	alike       counted once: within a quarter of the round's
//	            typical distance of an earlier kept update
//	            (alike.go); not evidence                            0
//	good        none of the above                                  +0.05 (up to 1)
//
// An alike update with no other reason neither gains nor loses.
//
// Medians are over the round's unflagged, non-sybil updates. The thresholds
// leave room for honest hospitals whose data differ (non-IID updates are
// larger or point elsewhere than the aggregate, but not 4× larger nor
// strongly opposed), which a plain distance-to-aggregate test would flag.
// A free-rider is a fact, not a judgment: a hospital whose data the model
// already fits sends a tiny update, but not a zero one.
// A member with Feedback set (a task with validation feedback) is judged
// by what the other hospitals found on their own rows, not by its cosine
// with the aggregate nor by its norm: "harms" replaces "opposes" and
// "oversized" (docs/robustness.md says why: a hospital whose data differ
// points elsewhere, it does not harm; and near convergence the median
// norm shrinks while an honest hospital whose patients differ keeps
// pulling, 4× and more, which flagged honest hospitals in clean runs).
// Scores start at 1. A hospital whose score falls below 0.5 is flagged: from
// then on it may not commit and its updates get zero weight, until an admin
// reinstates it.
const (
	ScoreStart     int64 = 1_000_000
	ScoreThreshold int64 = 500_000
	scoreGood      int64 = 50_000
	penAbsent      int64 = 100_000
	penUnrevealed  int64 = 400_000
	penSybil       int64 = 400_000
	penFreeRider   int64 = 400_000
	penOversized   int64 = 150_000
	penOpposes     int64 = 250_000
	penExcluded    int64 = 100_000
	penHarms       int64 = 300_000
	penHarmsStrong int64 = 600_000
	SybilDistance        = 20_000   // micro: relative distance of near-duplicates
	opposeCosine         = -300_000 // micro
	oversizeFactor       = 4
)

// Member is one invited hospital in a round.
type Member struct {
	Committed bool
	Revealed  bool
	Update    []int64 // when revealed
	Weight    uint64
	Score     int64
	Flagged   bool
	// Feedback, in a task with validation feedback, is what the other
	// hospitals said of the member's update of the previous round (zero
	// when it had none or nobody scored it). Nil: the task has none.
	Feedback *Feedback
}

// Change is a member's reputation change in a round.
type Change struct {
	Delta   int64
	Score   int64
	Reasons []string
	Flagged bool // flagged after this round
}

// RoundOutcome is what RunRound decides.
type RoundOutcome struct {
	Aggregate []int64
	Weights   []uint64 // per member, 0 for members not aggregated
	Changes   []Change // per member (nil when reputation is off)
	Used      int      // updates aggregated
	// Aggregated is set when the rule ran: there is an aggregate (in
	// Aggregate, or for StreamRound handed to its emit function).
	Aggregated bool
}

// evidence is what a round tells of each member, for scoring.
type evidence struct {
	members    []Member
	revealed   []int    // revealed k → member index
	sybil      []bool   // per member
	alikeTo    []int    // per member: the member whose update its own is alike to, or −1 (nil: none)
	norms      []uint64 // revealed k → ⌊‖update‖⌋
	weights    []uint64 // per member, as the rule gave them
	aggregated bool     // the rule ran
	aggNorm    uint64
	cosines    []int64   // revealed k → cosine with the aggregate, in millionths
	verdicts   []verdict // per member: the feedback's judgment
}

// score turns the evidence into each member's reputation change.
func (e evidence) score() []Change {
	members := e.members
	n := len(members)
	e.verdicts = judge(members)
	reasons := make([][]string, n)
	pen := make([]int64, n)
	add := func(i int, p int64, format string, a ...any) {
		pen[i] += p
		reasons[i] = append(reasons[i], fmt.Sprintf(format, a...))
	}
	alike := func(i int) bool { return e.alikeTo != nil && e.alikeTo[i] >= 0 }
	// The round's typical update: the median norm of those the rule took.
	var usedNorms []uint64
	for k, i := range e.revealed {
		if !members[i].Flagged && !e.sybil[i] {
			usedNorms = append(usedNorms, e.norms[k])
		}
	}
	medNorm := medianU(usedNorms)
	for k, i := range e.revealed {
		m := members[i]
		if m.Flagged {
			continue
		}
		if e.sybil[i] {
			add(i, penSybil, "sybil: within %s%% of another hospital's update", decimal(SybilDistance, 10_000, 0))
		}
		if !e.aggregated || medNorm == 0 {
			continue
		}
		norm := e.norms[k]
		switch {
		case norm == 0:
			add(i, penFreeRider, "free-rider: a zero update")
			continue
		case m.Feedback == nil && mulLess(medNorm, oversizeFactor, norm, 1):
			add(i, penOversized, "oversized: update norm %s× the median", decimal(norm, medNorm, 1))
		}
		if m.Feedback == nil && e.aggNorm > 0 && norm > 0 {
			if cos := e.cosines[k]; cos < opposeCosine {
				sign := ""
				if cos < 0 {
					sign, cos = "-", -cos
				}
				add(i, penOpposes, "opposes the aggregate: cosine %s%s", sign, decimal(uint64(cos), 1_000_000, 2))
			}
		}
		switch {
		case alike(i):
			add(i, 0, AlikeReason+", with the update of the task's hospital #%d", e.alikeTo[i]+1)
		case !e.sybil[i] && e.weights[i] == 0:
			add(i, penExcluded, "excluded by the rule")
		}
	}
	for i, m := range members {
		if v := e.verdicts[i]; v.level > 0 && !m.Flagged {
			p := penHarms
			if v.level == 2 {
				p = penHarmsStrong
			}
			add(i, p, "%s", v.reason(m.Feedback.Round))
		}
		switch {
		case m.Flagged:
		case m.Committed && !m.Revealed:
			add(i, penUnrevealed, "committed but did not reveal")
		case !m.Committed:
			add(i, penAbsent, "absent: no commitment")
		}
	}
	out := make([]Change, n)
	for i, m := range members {
		c := Change{Score: m.Score, Reasons: reasons[i], Flagged: m.Flagged}
		if m.Flagged {
			c.Reasons = []string{"flagged: excluded until an admin reinstates it"}
			out[i] = c
			continue
		}
		switch {
		case pen[i] == 0 && alike(i):
			c.Delta = 0
		case pen[i] == 0:
			c.Delta = scoreGood
			if m.Score+c.Delta > ScoreStart {
				c.Delta = ScoreStart - m.Score
			}
			if c.Delta < 0 {
				c.Delta = 0
			}
		default:
			c.Delta = -pen[i]
		}
		c.Score = m.Score + c.Delta
		if c.Score < 0 {
			c.Score, c.Delta = 0, -m.Score
		}
		if c.Score < ScoreThreshold {
			c.Flagged = true
		}
		sort.Strings(c.Reasons)
		out[i] = c
	}
	return out
}

// mulLess reports whether a·x < b·y, exactly (128-bit products).
func mulLess(a, x, b, y uint64) bool {
	ah, al := bits.Mul64(a, x)
	bh, bl := bits.Mul64(b, y)
	return ah < bh || (ah == bh && al < bl)
}

// decimal formats num/den with the given number of decimals, rounded half
// up, in integers only (reasons are consensus state: no floating point).
// A zero den reads "inf".
func decimal(num, den uint64, decimals int) string {
	if den == 0 {
		return "inf"
	}
	scale := uint64(1)
	for range decimals {
		scale *= 10
	}
	// q = round(num·scale/den), with the product in 128 bits.
	hi, lo := bits.Mul64(num, scale)
	if hi >= den {
		return ">" + strconv.FormatUint(^uint64(0)/scale, 10)
	}
	q, r := bits.Div64(hi, lo, den)
	if r >= den-r {
		q++
	}
	whole, frac := strconv.FormatUint(q/scale, 10), strconv.FormatUint(q%scale, 10)
	if decimals == 0 {
		return whole
	}
	for len(frac) < decimals {
		frac = "0" + frac
	}
	return whole + "." + frac
}
