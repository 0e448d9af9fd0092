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

// smallSort is the range below which orderStats sorts instead of
// partitioning.
const smallSort = 8

// orderStats returns the k-th smallest value of a (k from 0) and the
// (k−1)-th (the k-th again when k = 0), which is what a median of an even
// count needs. It does not change a: it partitions out of place, from a into
// s and then between s and t (each at least len(a) long), which is what
// lets every step be branch-free. Each step puts the values below the pivot
// at the front of the other buffer and those above it at the back, writing
// every value to both ends and advancing one end by the comparison (the
// slot written in vain is free and written again later), so no load waits
// for the store before it, as an in-place partition's does; values equal to
// the pivot are counted, not moved, so ties (the all-zero columns of sparse
// updates) end the search at once. Median-of-three pivots; insertion sort
// below smallSort values. O(len(a)) expected time. k must be in
// [0, len(a)).
func orderStats(a, s, t []int64, k int) (prev, kth int64) {
	src, dst := a, s
	lo, hi := 0, len(a) // the k-th smallest of a is the (k−lo)-th of src[lo:hi]
	// below is the largest value known to rank below every value in
	// src[lo:hi]; it is set before lo first moves.
	var below int64
	for hi-lo > smallSort {
		x, y, z := src[lo], src[lo+(hi-lo)/2], src[hi-1]
		p := max(min(x, y), min(max(x, y), z)) // the median of the three
		i, j := lo, hi-1
		for _, v := range src[lo:hi] {
			dst[i] = v
			dst[j] = v
			i += b2i(v < p)
			j -= b2i(v > p)
		}
		// dst[lo:i] < p, dst[j+1:hi] > p, and j+1−i values equal p.
		switch {
		case k < i:
			hi = i
		case k <= j:
			if k > i {
				return p, p
			}
			if i > lo {
				return maxOf(dst[lo:i]), p
			}
			if k == 0 {
				return p, p
			}
			return below, p
		default:
			lo, below = j+1, p
		}
		src, dst = dst, t
		if &src[0] == &t[0] {
			dst = s
		}
	}
	if &src[0] == &a[0] { // the first step: sort a copy, not a
		copy(s[lo:hi], a[lo:hi])
		src = s
	}
	r := src[lo:hi]
	for x := 1; x < len(r); x++ {
		v := r[x]
		y := x - 1
		for y >= 0 && r[y] > v {
			r[y+1] = r[y]
			y--
		}
		r[y+1] = v
	}
	kth = src[k]
	switch {
	case k > lo:
		prev = src[k-1]
	case k == 0:
		prev = kth
	default:
		prev = below
	}
	return prev, kth
}

// b2i is 1 for true and 0 for false, compiled without a branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}
