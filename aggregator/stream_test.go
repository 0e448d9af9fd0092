package aggregator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// copySource is a Source that fills the buffer it is given, as the chain's
// does, and never hands out a view.
type copySource [][]int64

func (s copySource) Block(k, lo, hi int, buf []int64) ([]int64, error) {
	return buf[:copy(buf, s[k][lo:hi])], nil
}

// randomRound draws a round of n members with d coordinates: honest
// updates around a common direction, and some members flagged, absent,
// unrevealed, copied (sybils), alike to the one before, zero, opposed,
// huge or near ±2^63.
func randomRound(r *rand.Rand, n, d int) []Member {
	base := make([]int64, d)
	for j := range base {
		base[j] = r.Int64N(2001) - 1000
	}
	members := make([]Member, n)
	for i := range members {
		m := Member{Committed: true, Revealed: true, Weight: uint64(r.IntN(50)), Score: ScoreStart - int64(r.IntN(600_000))}
		u := make([]int64, d)
		for j := range u {
			u[j] = base[j] + r.Int64N(801) - 400
		}
		switch r.IntN(13) {
		case 0:
			m.Revealed, u = false, nil
		case 1:
			m = Member{Score: ScoreStart}
			u = nil
		case 2:
			m.Flagged = true
		case 3:
			if i > 0 && members[i-1].Update != nil {
				copy(u, members[i-1].Update)
				u[0]++
			}
		case 4:
			clear(u)
		case 5:
			for j := range u {
				u[j] = -4 * u[j]
			}
		case 6:
			for j := range u {
				u[j] *= 1 << 20
			}
		case 7:
			u[r.IntN(d)] = math.MaxInt64 - r.Int64N(3)
			u[r.IntN(d)] = math.MinInt64 + r.Int64N(3)
		case 8: // alike: an earlier update, a tenth of the honest spread away
			if i > 0 && members[i-1].Update != nil {
				for j := range u {
					u[j] = members[i-1].Update[j] + r.Int64N(81) - 40
				}
			}
		}
		m.Update = u
		members[i] = m
	}
	return members
}

// TestStreamRoundMatchesReference holds the streamed round to the round as
// it was computed in memory, rule by rule, with and without reputation,
// for rounds of one block and of several, through a view source and a
// copying one.
func TestStreamRoundMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	params := []RuleParams{{}, {F: 1, M: 2, BetaMicro: 100_000, Clip: 5000, Iters: 2}}
	for trial := range 24 {
		n := 1 + r.IntN(12)
		d := 1 + r.IntN(40)
		if trial%4 == 0 {
			d = 2*StreamBlock + r.IntN(StreamBlock) // several blocks, a short last one
		}
		members := randomRound(r, n, d)
		seed := r.Uint64()
		for _, name := range Rules {
			for pi, p := range params {
				rule, err := NewRule(name, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, rep := range []bool{false, true} {
					label := fmt.Sprintf("trial %d n=%d d=%d %s params %d rep=%v", trial, n, d, name, pi, rep)
					want, wantErr := referenceRunRound(members, rule, rep, seed)
					got, gotErr := RunRound(members, rule, rep, seed)
					if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
						t.Fatalf("%s: error %v, reference %v", label, gotErr, wantErr)
					}
					if wantErr != nil {
						continue
					}
					want.Aggregated = want.Aggregate != nil
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s:\n got %+v\nwant %+v", label, brief(got), brief(want))
					}
					// The same through a source that copies.
					var src copySource
					for _, m := range members {
						if m.Revealed {
							src = append(src, m.Update)
						}
					}
					agg := make([]int64, d)
					got2, err := StreamRound(members, d, src, rule, rep, seed, func(lo int, v []int64) error {
						copy(agg[lo:], v)
						return nil
					}, nil)
					if err != nil {
						t.Fatalf("%s: copying source: %v", label, err)
					}
					if got2.Aggregated {
						got2.Aggregate = agg
					}
					if !reflect.DeepEqual(got2, want) {
						t.Fatalf("%s: copying source:\n got %+v\nwant %+v", label, brief(got2), brief(want))
					}
				}
			}
		}
	}
}

func brief(o RoundOutcome) string {
	a := o.Aggregate
	if len(a) > 6 {
		a = a[:6]
	}
	return fmt.Sprintf("agg %v (len %d) weights %v used %d changes %+v", a, len(o.Aggregate), o.Weights, o.Used, o.Changes)
}

// TestStreamRoundSourceError: a source that fails fails the round with its
// error, never a partial outcome.
func TestStreamRoundSourceError(t *testing.T) {
	members := []Member{{Committed: true, Revealed: true, Update: make([]int64, 3*StreamBlock), Weight: 1}}
	rule, _ := RuleByName("median")
	_, err := StreamRound(members, 3*StreamBlock, failingSource{at: StreamBlock}, rule, true, 0, func(int, []int64) error { return nil }, nil)
	if err == nil || err.Error() != "block 8192 unreadable" {
		t.Fatalf("err = %v, want the source's", err)
	}
}

type failingSource struct{ at int }

func (f failingSource) Block(k, lo, hi int, buf []int64) ([]int64, error) {
	if lo >= f.at {
		return nil, fmt.Errorf("block %d unreadable", lo)
	}
	return buf[:hi-lo], nil
}
