package aggregator

import (
	"math"
	"math/bits"
)

// int128 is a two's-complement signed 128-bit integer.
type int128 struct {
	hi uint64
	lo uint64
}

func (a int128) add(b int128) int128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return int128{hi, lo}
}

func (a int128) neg() int128 {
	lo, b := bits.Sub64(0, a.lo, 0)
	hi, _ := bits.Sub64(0, a.hi, b)
	return int128{hi, lo}
}

func (a int128) isNeg() bool { return a.hi>>63 == 1 }

// mul64 returns v·w exactly.
func mul64(v int64, w uint64) int128 {
	hi, lo := bits.Mul64(absU(v), w)
	p := int128{hi, lo}
	if v < 0 {
		return p.neg()
	}
	return p
}

// divRound divides by d > 0, rounds half away from zero and clamps the
// quotient to the int64 range (it always fits for a weighted mean of int64s).
func (a int128) divRound(d uint64) int64 {
	neg := a.isNeg()
	if neg {
		a = a.neg()
	}
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	if r >= d-r {
		var c uint64
		qlo, c = bits.Add64(qlo, 1, 0)
		qhi += c
	}
	if qhi != 0 || qlo > math.MaxInt64 {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(qlo)
	}
	return int64(qlo)
}
