package aggregator

// selectK rearranges a so that a[k] holds the value a sorted copy would hold
// there, everything before it is no larger and everything after no smaller
// (Hoare's quickselect, median-of-three pivots, insertion sort below 16
// values). It runs in O(len(a)) expected time, and since only values, not
// positions, are read afterwards, ties cannot change any result. k must be
// in [0, len(a)).
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
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] <= p <= a[i..hi], and every a[j+1..i-1] == p.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
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
