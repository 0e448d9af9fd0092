package aggregator

import (
	"encoding/binary"
	"math"
	"math/bits"
	"reflect"
	"testing"
)

// fuzzRound decodes fuzz bytes into a round: the first byte picks the
// number of members (1 to 8) and the dimension (1 to 8), the next bytes
// each member's state (committed, revealed, flagged), weight and score,
// and the rest the update values as little-endian int64s, cycled. Values
// of every size reach the rules, the extremes included.
func fuzzRound(data []byte) ([]Member, int) {
	if len(data) < 2 {
		return nil, 0
	}
	n, d := int(data[0]&7)+1, int(data[0]>>3&7)+1
	data = data[1:]
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	members := make([]Member, n)
	for i := range members {
		b := next()
		members[i] = Member{Committed: b&1 == 1 || b&2 == 2, Revealed: b&2 == 2, Flagged: b&4 == 4,
			Weight: uint64(next()) << (next() & 63), Score: int64(next()%101) * 10_000}
	}
	vals := data
	for i := range members {
		if !members[i].Revealed {
			continue
		}
		u := make([]int64, d)
		for j := range u {
			if len(vals) >= 8 {
				u[j] = int64(binary.LittleEndian.Uint64(vals))
				vals = vals[8:]
			} else if len(vals) > 0 {
				u[j] = int64(int8(vals[0])) << (vals[0] & 63)
				vals = vals[1:]
			}
		}
		members[i].Update = u
	}
	return members, d
}

// FuzzRules runs every rule, with and without reputation, and every server
// optimizer over fuzzed rounds: nothing may panic, and every outcome must
// have the shape the chain relies on. Its seed corpus (testdata/fuzz)
// runs in every `go test`.
func FuzzRules(f *testing.F) {
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, math.MaxUint64>>1)
	small := make([]byte, 8)
	binary.LittleEndian.PutUint64(small, 1<<63)
	f.Add(append([]byte{0x1b, 2, 1, 0, 50, 2, 1, 0, 50, 2, 1, 0, 50, 2, 1, 0, 50}, append(big, small...)...))
	f.Add([]byte{0x3f, 2, 255, 63, 100, 2, 255, 63, 100, 2, 1, 0, 0, 6, 1, 1, 1})
	f.Add([]byte{0x00, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		members, d := fuzzRound(data)
		if members == nil {
			return
		}
		const seed = 1 // models of at most 8 parameters: compared exactly
		for _, name := range Rules {
			rule, err := NewRule(name, RuleParams{})
			if err != nil {
				t.Fatal(err)
			}
			for _, rep := range []bool{false, true} {
				out, err := RunRound(members, rule, rep, seed)
				want, wantErr := referenceRunRound(members, rule, rep, seed)
				if (err == nil) != (wantErr == nil) {
					t.Fatalf("%s rep=%v: error %v, the in-memory reference %v", name, rep, err, wantErr)
				}
				if err != nil {
					continue // a refusal is fine; a panic is not
				}
				want.Aggregated = want.Aggregate != nil
				if !reflect.DeepEqual(out, want) {
					t.Fatalf("%s rep=%v: streamed %+v, in memory %+v", name, rep, out, want)
				}
				if len(out.Weights) != len(members) || (rep && len(out.Changes) != len(members)) {
					t.Fatalf("%s: %d weights, %d changes for %d members", name, len(out.Weights), len(out.Changes), len(members))
				}
				if out.Aggregate != nil && len(out.Aggregate) != d {
					t.Fatalf("%s: aggregate of %d values, want %d", name, len(out.Aggregate), d)
				}
				for _, c := range out.Changes {
					if c.Score < 0 || c.Score > ScoreStart {
						t.Fatalf("%s: score %d outside [0, %d]", name, c.Score, ScoreStart)
					}
				}
				if out.Aggregate == nil {
					continue
				}
				for _, opt := range ServerOptimizers {
					p := ServerOptParams{Name: opt, FracBits: 16, LR: 1 << 16, Beta1: 1 << 15, Beta2: 60000, Tau: 1}
					step, st, err := ServerStep(p, ServerOptState{}, out.Aggregate)
					if err == nil {
						_, _, err = ServerStep(p, st, step)
					}
					if err == nil {
						_, err = AddSaturating(step, out.Aggregate, math.MinInt32, math.MaxInt32)
					}
					_ = err
				}
			}
		}
	})
}

// TestIsqrt128Extremes: the square root is total up to 2^128−1, where the
// reveal of an update near ±2^63 once made it panic inside FinalizeBlock.
func TestIsqrt128Extremes(t *testing.T) {
	const m = math.MaxUint64
	sqHi, sqLo := bitsMul(m, m) // (2^64−1)²
	for _, c := range []struct {
		hi, lo, want uint64
	}{
		{m, m, m},
		{sqHi, sqLo, m},
		{sqHi, sqLo - 1, m - 1},
		{0, 1 << 62, 1 << 31},
		{1, 0, 1 << 32},
		{0, 0, 0},
	} {
		if got := isqrt128(c.hi, c.lo); got != c.want {
			t.Errorf("isqrt128(%d:%d) = %d, want %d", c.hi, c.lo, got, c.want)
		}
	}
}

func bitsMul(a, b uint64) (uint64, uint64) { return bits.Mul64(a, b) }

// TestDecimal: reasons are formatted from integers.
func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		num, den uint64
		dec      int
		want     string
	}{
		{1, 3, 2, "0.33"}, {2, 3, 2, "0.67"}, {5, 1, 1, "5.0"}, {45, 10, 0, "5"}, {1, 200, 2, "0.01"},
		{20_000, 10_000, 0, "2"}, {7, 0, 2, "inf"}, {math.MaxUint64, 1, 2, ">184467440737095516"},
	} {
		if got := decimal(c.num, c.den, c.dec); got != c.want {
			t.Errorf("decimal(%d, %d, %d) = %q, want %q", c.num, c.den, c.dec, got, c.want)
		}
	}
}

// FuzzJudge: the feedback judgment is total over any verdicts a round's
// commitments can carry (scores of any sign and size, scorers repeated or
// out of range, updates unscored), and never calls harmful an update
// most of its counted scorers found harmless.
func FuzzJudge(f *testing.F) {
	f.Add([]byte{7, 200, 200, 200, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{3, 0, 255, 128, 127, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{12, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 200, 100, 50, 25, 12, 6, 3, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := 3 + int(data[0])%30
		data = data[1:]
		next := func() int64 {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return (int64(b) - 128) * 7_813 // ±10⁶
		}
		ms := make([]Member, n)
		for j := range ms {
			ms[j].Feedback = &Feedback{Round: 1}
			for s := range n {
				if s == j {
					continue
				}
				v := next()
				if v == 7_813 { // a stray scorer index
					ms[j].Feedback.Scorers = append(ms[j].Feedback.Scorers, n+s)
				} else {
					ms[j].Feedback.Scorers = append(ms[j].Feedback.Scorers, s)
				}
				ms[j].Feedback.Scores = append(ms[j].Feedback.Scores, v)
			}
		}
		for i, v := range judge(ms) {
			if v.level < 0 || v.level > 2 || v.counted > n || v.harmed > v.counted {
				t.Fatalf("member %d: %+v", i, v)
			}
			if v.level > 0 && 2*v.harmed <= v.counted {
				t.Fatalf("member %d harmful with %d of %d harmful votes", i, v.harmed, v.counted)
			}
			if v.level > 0 && 2*v.p0num >= v.p0den {
				t.Fatalf("member %d judged in a round whose typical update hurts most (%d/%d)", i, v.p0num, v.p0den)
			}
		}
	})
}
