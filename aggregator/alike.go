package aggregator

import "sort"

// Alike updates are counted once. Hospitals training on their own patients
// send updates about as far from each other as from the rest; colluders
// steering the aggregate send the same step, with noise enough to pass
// the 2 % near-duplicate fact (SybilDistance) but not enough to look like
// a hospital of their own: docs/robustness.md measured colluders of Fang
// et al.'s attack at 0.05–0.19 of the larger norm from each other, and
// honest pairs at 0.64 and more. Three copies of one step move a
// coordinate-wise median or a Huber mean towards it; counted once, they
// are one voice.
//
// With reputation on, the used updates (unflagged, not sybil) are taken in
// the task's order, and an update whose distance to one already kept is at
// most a quarter of the round's typical distance is left out of the rule
// (weight 0). The typical distance is the median, over the used updates,
// of each one's median distance to the others: a minority of updates far
// from everyone, or close to each other, cannot move it.
//
// Leaving one out is not evidence against its hospital: honest look-alikes
// lose influence, nothing more (no penalty, no reward; the reason is
// recorded). Colluders are flagged, if at all, by the other evidence.
//
// Distances: models of at most AlikeSketch parameters are compared
// exactly. Larger ones through a CountSketch (Charikar, Chen and
// Farach-Colton, 2002) of AlikeSketch buckets: coordinate j adds ±x_j
// (x_j clamped to ±2^31) to one bucket, the bucket and sign drawn from a
// hash of j keyed by the round's seed. Its squared distances are unbiased
// with a relative spread of about √(2/AlikeSketch), 4 %. The chain draws
// the seed from the round's commitments, so the hash is unknown while
// updates can still change: with a known hash, a vector confined to one
// bucket's coordinates moves the sketch √(d/AlikeSketch) times more than
// the update, and colluders could look apart while being alike.

// AlikeReason begins the reputation reason of an update counted once.
const AlikeReason = "alike: counted once"

// AlikeSketch is the number of buckets of the sketch that compares large
// models; models of at most this many parameters are compared exactly.
const AlikeSketch = 1024

// sketchCoord returns coordinate j's bucket and whether it is subtracted,
// under seed (splitmix64's finaliser over the seeded index).
func sketchCoord(seed uint64, j int) (int, bool) {
	z := seed + uint64(j)*0x9e3779b97f4a7c15
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return int(z & (AlikeSketch - 1)), z>>63 == 1
}

// clamp31 clamps x to [−2^31, 2^31): a sketch bucket of a model of fewer
// than 2^32 parameters then sums them without overflow. It leaves alone
// the values blockStats calls small.
func clamp31(x int64) int64 {
	return min(max(x, -1<<31), 1<<31-1)
}

// sketchTable fills tab with the signed buckets of coordinates lo..lo+len:
// bucket·2, plus 1 when the coordinate is subtracted.
func sketchTable(seed uint64, lo int, tab []int32) {
	for j := range tab {
		b, neg := sketchCoord(seed, lo+j)
		tab[j] = int32(b << 1)
		if neg {
			tab[j] |= 1
		}
	}
}

// addSketch adds the values v, whose coordinates' signed buckets are tab,
// into the sketch sk, each value clamped (clamp31). The values are the
// source's (not to be written), so they are clamped a stretch at a time
// into a buffer on the stack.
func addSketch(sk []int64, v []int64, tab []int32) {
	var buf [256]int64
	for lo := 0; lo < len(v); lo += len(buf) {
		c := v[lo:min(lo+len(buf), len(v))]
		for j, x := range c {
			buf[j] = clamp31(x)
		}
		addSketchSmall(sk, buf[:len(c)], tab[lo:lo+len(c)])
	}
}

// addSketchSmall is addSketch for values already within [−2^31, 2^31),
// which clamp31 leaves alone. No branch on the sign (it is a coin flip
// per coordinate): −x is (x XOR −1) + 1.
func addSketchSmall(sk []int64, v []int64, tab []int32) {
	sk = sk[:AlikeSketch]
	tab = tab[:len(v)]
	for j, x := range v {
		t := tab[j]
		m := -int64(t & 1)
		sk[(t>>1)&(AlikeSketch-1)] += (x ^ m) - m
	}
}

// alikeOf decides which of m updates are alike, given every pair's squared
// distance (sq[i][k], symmetric). It returns, per update, −1 when it is
// kept, or the index of the earlier kept update it is alike to. With fewer
// than three updates, or a typical distance of 0, every update is kept.
func alikeOf(sq [][]uint128) []int {
	m := len(sq)
	out := make([]int, m)
	for i := range out {
		out[i] = -1
	}
	if m < 3 {
		return out
	}
	per := make([]uint128, m)
	row := make([]uint128, 0, m-1)
	for i := range m {
		row = row[:0]
		for k := range m {
			if k != i {
				row = append(row, sq[i][k])
			}
		}
		per[i] = lowerMedian128(row)
	}
	typical := lowerMedian128(per)
	if typical == (uint128{}) {
		return out
	}
	var kept []int
	for j := range m {
		for _, k := range kept {
			if alike(sq[j][k], typical) {
				out[j] = k
				break
			}
		}
		if out[j] < 0 {
			kept = append(kept, j)
		}
	}
	return out
}

// alike reports whether a distance is at most a quarter of the typical
// one, given both squared: 16·sq ≤ typical, exactly.
func alike(sq, typical uint128) bool {
	if sq.hi>>60 != 0 {
		return false // 16·sq ≥ 2^128 > typical
	}
	s := uint128{sq.hi<<4 | sq.lo>>60, sq.lo << 4}
	return !typical.less(s)
}

// lowerMedian128 returns the lower median of v (v is reordered).
func lowerMedian128(v []uint128) uint128 {
	sort.Slice(v, func(a, b int) bool { return v[a].less(v[b]) })
	return v[(len(v)-1)/2]
}
