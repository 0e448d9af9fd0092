package aggregator

import (
	"fmt"
	"sort"
)

// referenceRunRound is RunRound as it was before rounds streamed: the
// updates in memory, every rule through its Rule.Aggregate. The tests hold
// StreamRound to it, result for result.
//
// It aggregates a round: it drops flagged members and, with
// reputation on, near-identical (sybil) updates, runs the rule on the rest,
// and scores every member. Members must be in a fixed order (the chain
// sorts them by key); the outcome is in the same order. Cost: O(n²·d).
func referenceRunRound(members []Member, rule Rule, reputation bool, seed uint64) (RoundOutcome, error) {
	n := len(members)
	out := RoundOutcome{Weights: make([]uint64, n)}
	var revealed []int // indices of revealed members
	var ups []Update
	for i, m := range members {
		if m.Revealed {
			revealed = append(revealed, i)
			ups = append(ups, Update{Values: m.Update, Weight: m.Weight})
		}
	}
	reasons := make([][]string, n)
	pen := make([]int64, n)
	add := func(i int, p int64, format string, a ...any) {
		pen[i] += p
		reasons[i] = append(reasons[i], fmt.Sprintf(format, a...))
	}
	sybil := make([]bool, n)
	var prof []profile // of ups, when reputation is on
	norms := make([]uint64, len(ups))
	small := true // every revealed value within ±2^31
	if reputation && len(ups) > 0 {
		if _, err := checkShape(ups); err != nil {
			return out, err
		}
		prof = profileAll(ups)
		for k, p := range prof {
			norms[k], small = p.norm, small && p.small
		}
	}
	if reputation && len(ups) > 1 {
		for _, p := range nearDuplicates(ups, prof, SybilDistance) {
			a, b := revealed[p[0]], revealed[p[1]]
			sybil[a], sybil[b] = true, true
		}
	}
	// The rule runs over revealed, unflagged, non-sybil members.
	var use []int
	var useUps []Update
	for k, i := range revealed {
		if !members[i].Flagged && !sybil[i] {
			use = append(use, i)
			useUps = append(useUps, ups[k])
		}
	}
	// Alike updates counted once: each used update's distances to the
	// others, exact for small models, else between count sketches made
	// coordinate by coordinate.
	alikeTo := make([]int, n)
	for i := range alikeTo {
		alikeTo[i] = -1
	}
	if reputation && len(useUps) >= 3 {
		vecs := make([][]int64, len(useUps))
		for j, u := range useUps {
			vecs[j] = u.Values
			if d := len(u.Values); d > AlikeSketch {
				vecs[j] = make([]int64, AlikeSketch)
				for c, x := range u.Values {
					b, neg := sketchCoord(seed, c)
					if neg {
						vecs[j][b] -= clamp31(x)
					} else {
						vecs[j][b] += clamp31(x)
					}
				}
			}
		}
		sq := newMatrix(len(vecs))
		for a := range vecs {
			for b := range vecs {
				if a != b {
					sq[a][b] = sqDist(vecs[a], vecs[b])
				}
			}
		}
		var keptUse []int
		var keptUps []Update
		for j, a := range alikeOf(sq) {
			if a < 0 {
				keptUse, keptUps = append(keptUse, use[j]), append(keptUps, useUps[j])
			} else {
				alikeTo[use[j]] = use[a]
			}
		}
		use, useUps = keptUse, keptUps
	}
	if len(useUps) > 0 {
		res, err := rule.Aggregate(useUps)
		if err != nil {
			return out, err
		}
		out.Aggregate = res.Values
		for k, i := range use {
			out.Weights[i] = res.Weights[k]
			if res.Weights[k] > 0 {
				out.Used++
			}
		}
	}
	if !reputation {
		return out, nil
	}
	// Evidence against the aggregate and the round's typical update.
	var usedNorms []uint64
	if len(ups) > 0 {
		for k, i := range revealed {
			if !members[i].Flagged && !sybil[i] {
				usedNorms = append(usedNorms, norms[k])
			}
		}
	}
	medNorm := medianU(usedNorms)
	aggNorm, aggSmall := uint64(0), false
	if out.Aggregate != nil {
		p := profileOf(out.Aggregate)
		aggNorm, aggSmall = p.norm, p.small
	}
	// Each revealed member's cosine with the aggregate, in parallel.
	cosines := make([]int64, len(revealed))
	if out.Aggregate != nil && aggNorm > 0 {
		cosine := cosineMicro
		if small && aggSmall {
			cosine = cosineSmall // the same values, faster
		}
		parallelBlocks(len(revealed), 1, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				if m := members[revealed[k]]; !m.Flagged && norms[k] > 0 {
					cosines[k] = cosine(m.Update, out.Aggregate, norms[k], aggNorm)
				}
			}
		})
	}
	for k, i := range revealed {
		m := members[i]
		if m.Flagged {
			continue
		}
		if sybil[i] {
			add(i, penSybil, "sybil: within %s%% of another hospital's update", decimal(SybilDistance, 10_000, 0))
		}
		if out.Aggregate == nil || medNorm == 0 {
			continue
		}
		switch {
		case norms[k] == 0:
			add(i, penFreeRider, "free-rider: a zero update")
			continue
		case m.Feedback == nil && mulLess(medNorm, oversizeFactor, norms[k], 1):
			add(i, penOversized, "oversized: update norm %s× the median", decimal(norms[k], medNorm, 1))
		}
		if aggNorm > 0 && norms[k] > 0 {
			if cos := cosines[k]; cos < opposeCosine {
				sign := ""
				if cos < 0 {
					sign, cos = "-", -cos
				}
				add(i, penOpposes, "opposes the aggregate: cosine %s%s", sign, decimal(uint64(cos), 1_000_000, 2))
			}
		}
		switch {
		case alikeTo[i] >= 0:
			add(i, 0, AlikeReason+", with the update of the task's hospital #%d", alikeTo[i]+1)
		case !sybil[i] && out.Weights[i] == 0:
			add(i, penExcluded, "excluded by the rule")
		}
	}
	for i, m := range members {
		switch {
		case m.Flagged:
		case m.Committed && !m.Revealed:
			add(i, penUnrevealed, "committed but did not reveal")
		case !m.Committed:
			add(i, penAbsent, "absent: no commitment")
		}
	}
	out.Changes = make([]Change, n)
	for i, m := range members {
		c := Change{Score: m.Score, Reasons: reasons[i], Flagged: m.Flagged}
		if m.Flagged {
			c.Reasons = []string{"flagged: excluded until an admin reinstates it"}
			out.Changes[i] = c
			continue
		}
		if pen[i] == 0 && alikeTo[i] >= 0 {
			c.Delta = 0
		} else if pen[i] == 0 {
			c.Delta = scoreGood
			if m.Score+c.Delta > ScoreStart {
				c.Delta = ScoreStart - m.Score
			}
			if c.Delta < 0 {
				c.Delta = 0
			}
		} else {
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
		out.Changes[i] = c
	}
	return out, nil
}
