package aggregator

// selectK rearranges a so that a[k] holds the value a sorted copy would hold
// there, everything before it is no larger and everything after no smaller.
// It is quickselect with median-of-three pivots and branch-free Lomuto
// partitions (Alexandrescu's: each step swaps unconditionally and advances
// by the comparison's result, which the compiler turns into a conditional
// move; on a column of 50 random values this is twice as fast as Hoare's
// partition, whose branches the CPU mispredicts half the time). When k is
// right of the pivot and the range shrank by less than a quarter, a second
// pass gathers the values equal to it, so that ties (all-zero columns of
// sparse updates) cannot make the range shrink by one value a step.
// Insertion sort below 16 values. O(len(a)) expected time; since only
// values, not positions, are read afterwards, ties cannot change any
// result. k must be in [0, len(a)).
func selectK(a []int64, k int) {
	lo, hi := 0, len(a)-1
	for hi-lo >= 16 {
		mid := lo + (hi-lo)/2
		// Order a[lo], a[mid], a[hi]; the median of the three is the pivot.
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		a[lo], a[mid] = a[mid], a[lo]
		p := a[lo]
		j := lo + 1 // a[lo+1..j-1] < p
		for i := lo + 1; i <= hi; i++ {
			t := a[i]
			a[i] = a[j]
			a[j] = t
			step := 0
			if t < p {
				step = 1
			}
			j += step
		}
		j--
		a[lo], a[j] = a[j], a[lo]
		// Now a[lo..j-1] < p = a[j] <= a[j+1..hi].
		if k < j {
			hi = j - 1
			continue
		}
		if k == j {
			return
		}
		if 4*(hi-j) < 3*(hi-lo) {
			lo = j + 1 // the range shrank by a quarter: ties cannot be stalling it
			continue
		}
		e := j + 1 // a[j..e-1] == p
		for i := j + 1; i <= hi; i++ {
			t := a[i]
			a[i] = a[e]
			a[e] = t
			step := 0
			if t == p {
				step = 1
			}
			e += step
		}
		if k < e {
			return
		}
		lo = e
	}
	for x := lo + 1; x <= hi; x++ { // insertion sort of the rest
		v := a[x]
		y := x - 1
		for y >= lo && a[y] > v {
			a[y+1] = a[y]
			y--
		}
		a[y+1] = v
	}
}

// maxOf returns the largest value of a non-empty slice.
func maxOf(a []int64) int64 {
	m := a[0]
	for _, v := range a[1:] {
		m = max(m, v)
	}
	return m
}
