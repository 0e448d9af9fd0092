package sim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Attacks lists the behaviours a simulated malicious hospital can have.
// Each is off unless a trainer's Attack names it.
//
//	label-flip        trains honestly on labels flipped 0↔1
//	sign-flip         sends −Δ
//	scale             sends 10·Δ (model replacement)
//	noise             sends Gaussian noise (σ = 1 per weight) instead of Δ
//	free-rider        sends a zero update
//	free-rider-echo   sends the last global step back (w_r − w_{r−1})
//	sybil             colluders send one update with 0.5% noise each
//	alie              colluders send μ − z·σ of their honest updates ("A little is enough", Baruch et al. 2019)
//	ipm               colluders send −0.5·μ (inner-product manipulation, Xie et al. 2020)
//	commit-no-reveal  commits to an update and never reveals it
//	on-off            honest, but sends −3·Δ every third round (rounds 2, 5, 8, ...),
//	                  so that good rounds rebuild what bad ones cost its reputation
//	mpaf              a fake client with no data (Cao and Gong, 2022): sends
//	                  w_base − w, pulling the model towards a random base model
//	sybil-noisy       colluders send one update with 5% noise each: far enough
//	                  apart to pass a near-duplicate test at 2%
//	min-max           colluders send μ − γ·σ with the largest γ whose distance to
//	                  every benign update stays within the largest benign pairwise
//	                  distance (Shejwalkar and Houmansadr, NDSS 2021, AGR-agnostic)
//	min-sum           as min-max, bounding the sum of squared distances to the
//	                  benign updates by the largest benign one (same paper)
//	fang              colluders send μ − s·z·σ per coordinate, s the sign of μ and
//	                  z drawn from [3, 4] for each colluder and coordinate: the
//	                  partial-knowledge attack on trimmed mean and median of Fang
//	                  et al. (USENIX Security 2020), in update space
//	fang-apart        fang by colluders who know that alike updates are counted
//	                  once (aggregator, alike.go): each adds noise of its own,
//	                  FangApart times the median distance between the
//	                  colluders' honest updates, to be counted apart
//	adaptive          colluders who know the reputation thresholds
//	                  (aggregator.Evidence): each sends an update at cosine
//	                  AdaptiveCosine to the benign mean, with AdaptiveNorm times its
//	                  norm and its own direction, just inside every threshold
//
// The colluding attacks (sybil, sybil-noisy, alie, ipm, min-max, min-sum,
// fang, fang-apart, adaptive) estimate the benign updates by their own honest ones: they know
// their data, not the other hospitals'.
var Attacks = []string{"label-flip", "sign-flip", "scale", "noise", "free-rider", "free-rider-echo", "sybil", "alie", "ipm", "commit-no-reveal",
	"on-off", "mpaf", "sybil-noisy", "min-max", "min-sum", "fang", "fang-apart", "adaptive"}

// Adaptive reports whether attack is built to evade the defence: it
// knows a threshold or a rule of the chain's and keeps under it (adaptive
// knows aggregator.Evidence's thresholds, fang-apart that alike updates
// count once, on-off that good rounds rebuild a score). Such an attack is
// held to doing no harm where it is not flagged; every other attack is
// held to being flagged (fl/bench.Criteria).
func Adaptive(attack string) bool {
	switch attack {
	case "adaptive", "fang-apart", "on-off":
		return true
	}
	return false
}

// FangApart is the norm of each fang-apart colluder's own noise, in median
// distances between the colluders' honest updates: two such colluders are
// about 0.42 of it apart, clear of the quarter under which updates count
// once, with room for the round's typical distance to differ from theirs.
const FangApart = 0.3

// The adaptive attacker's aim, inside aggregator.Evidence's thresholds
// with a margin: cosine −0.25 to the benign mean (opposes: below −0.3) and
// 3.5× the benign norm (oversized: above 4× the median).
const (
	AdaptiveCosine = -0.25
	AdaptiveNorm   = 3.5
)

// Attack is a malicious trainer's behaviour.
type Attack struct {
	Name string
	// Colluders is shared by the members of a sybil, alie or ipm group.
	Colluders *Colluders
	// Seed drives the attack's noise.
	Seed uint64
	// ClaimSamples, when non-zero, is the sample count the attacker claims in
	// its commitments (FedAvg weighs updates by it; a liar claims much).
	ClaimSamples uint64
	// LieScores makes the attacker lie in its verdicts (a task with
	// feedback): every update of a hospital outside Allies harmful, every
	// ally's helpful, each at the largest magnitude the chain takes.
	// Otherwise it scores as an honest trainer would, on its own rows.
	LieScores bool
	// LieTarget, when set with LieScores, makes the lies targeted: the
	// allies helpful and this honest hospital harmful, every other verdict
	// the honest one, so that the attacker stays credible.
	LieTarget []byte
	// Allies are the attackers' public keys (as strings of their bytes).
	Allies map[string]bool
}

// ParseAttacks reads NAME:COUNT specs (as --attack takes them).
func ParseAttacks(specs []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range specs {
		name, count, ok := strings.Cut(s, ":")
		n := 1
		if ok {
			v, err := strconv.Atoi(count)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("sim: attack %q: COUNT must be a positive number", s)
			}
			n = v
		}
		if !knownAttack(name) {
			return nil, fmt.Errorf("sim: unknown attack %q (known: %s)", name, strings.Join(Attacks, ", "))
		}
		out[name] += n
	}
	return out, nil
}

func knownAttack(name string) bool {
	for _, a := range Attacks {
		if a == name {
			return true
		}
	}
	return false
}

// Collusive reports whether the attack needs a Colluders group.
func Collusive(name string) bool {
	switch name {
	case "sybil", "sybil-noisy", "alie", "ipm", "min-max", "min-sum", "fang", "fang-apart", "adaptive":
		return true
	}
	return false
}

// PrepareData changes a hospital's training data for the attack.
func (a *Attack) PrepareData(h datasets.Hospital) datasets.Hospital {
	if a == nil || a.Name != "label-flip" {
		return h
	}
	flipped := datasets.Table{X: h.Train.X, Y: make([]float64, h.Train.Len())}
	for i, y := range h.Train.Y {
		flipped.Y[i] = 1 - y
	}
	h.Train = flipped
	return h
}

// Step is what an attack sees of one round.
type Step struct {
	Task     uint64
	Round    uint32
	Delta    []float64 // the honest update: local model − global model
	PrevStep []float64 // the last global step w_r − w_{r−1} (zeros before round 2)
	Global   []float64 // the global model the round started from
}

// Transform turns the honest update s.Delta into the malicious one.
func (a *Attack) Transform(ctx context.Context, name string, s Step) ([]float64, error) {
	delta := s.Delta
	if a == nil {
		return delta, nil
	}
	out := make([]float64, len(delta))
	switch a.Name {
	case "label-flip", "commit-no-reveal":
		copy(out, delta)
	case "sign-flip":
		for i, v := range delta {
			out[i] = -v
		}
	case "scale":
		for i, v := range delta {
			out[i] = 10 * v
		}
	case "noise":
		rng := datasets.NewRand(a.Seed^uint64(s.Round)<<32^s.Task, "attack-noise/"+name)
		for i := range out {
			out[i] = rng.NormFloat64()
		}
	case "free-rider":
	case "free-rider-echo":
		copy(out, s.PrevStep)
	case "on-off":
		k := 1.0
		if s.Round%3 == 2 {
			k = -3
		}
		for i, v := range delta {
			out[i] = k * v
		}
	case "mpaf":
		// The base model is the attackers' shared secret: one draw per task.
		rng := datasets.NewRand(a.Seed^s.Task, "mpaf-base")
		for i := range out {
			base := rng.NormFloat64()
			if i < len(s.Global) {
				out[i] = base - s.Global[i]
			}
		}
	case "sybil", "sybil-noisy", "alie", "ipm", "min-max", "min-sum", "fang", "fang-apart", "adaptive":
		if a.Colluders == nil {
			return nil, fmt.Errorf("sim: attack %s needs a Colluders group", a.Name)
		}
		return a.Colluders.exchange(ctx, a, name, s.Task, s.Round, delta)
	default:
		return nil, fmt.Errorf("sim: unknown attack %q", a.Name)
	}
	return out, nil
}

// hook is how a malicious trainer's attack runs: the trainer calls it
// (fl.Hook) at the points an attack changes what it sends.
type hook struct {
	a    *Attack
	name string // the hospital's name
}

var (
	_ fl.Hook   = hook{}
	_ fl.Scorer = hook{}
)

// Update turns the honest local model into the attacker's.
func (h hook) Update(ctx context.Context, in fl.UpdateInput) ([]float64, error) {
	delta := make([]float64, len(in.Local))
	for i := range in.Local {
		delta[i] = in.Local[i] - in.Global[i]
	}
	var prevStep []float64
	if h.a.Name == "free-rider-echo" && in.PrevGlobal != nil {
		if p, err := in.PrevGlobal(ctx); err == nil && len(p) == len(in.Global) {
			prevStep = make([]float64, len(p))
			for i := range p {
				prevStep[i] = in.Global[i] - p[i]
			}
		}
	}
	if prevStep == nil {
		prevStep = make([]float64, len(delta))
	}
	bad, err := h.a.Transform(ctx, h.name, Step{Task: in.Task.Id, Round: in.Round, Delta: delta, PrevStep: prevStep, Global: in.Global})
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(in.Global))
	for i := range out {
		out[i] = in.Global[i] + bad[i]
	}
	return out, nil
}

// Scores are the attacker's verdicts: its honest ones, or lies.
func (h hook) Scores(_ uint64, _ uint32, honest []pb.UpdateScore) []pb.UpdateScore {
	if !h.a.LieScores {
		return honest
	}
	out := make([]pb.UpdateScore, len(honest))
	for i, s := range honest {
		v := int64(fl.MaxVerdict)
		switch {
		case h.a.Allies[string(s.Hospital)]:
			v = -fl.MaxVerdict
		case h.a.LieTarget != nil && !bytes.Equal(s.Hospital, h.a.LieTarget):
			v = s.LossDiffPpm // honest where it does not matter
		}
		out[i] = pb.UpdateScore{Hospital: s.Hospital, LossDiffPpm: v}
	}
	return out
}

// Samples is the sample count the attacker claims.
func (h hook) Samples(actual uint64) uint64 {
	if h.a.ClaimSamples > 0 {
		return h.a.ClaimSamples
	}
	return actual
}

// Reveal is false for commit-no-reveal.
func (h hook) Reveal(uint64, uint32) bool { return h.a.Name != "commit-no-reveal" }

// Colluders lets a group of malicious trainers in one process see each
// other's honest updates before they send, as colluding attackers would.
type Colluders struct {
	size   int
	n, f   int // the federation's size and the number of attackers, for ALIE's z
	mu     sync.Mutex
	rounds map[[2]uint64]*colludeRound
}

type colludeRound struct {
	updates map[string][]float64
	done    chan struct{}
}

// NewColluders makes a group of size attackers in a federation of n hospitals.
func NewColluders(size, n int) *Colluders {
	return &Colluders{size: size, n: n, f: size, rounds: map[[2]uint64]*colludeRound{}}
}

// exchange waits (up to 20 s) for every colluder's honest update, then
// returns this colluder's malicious one.
func (c *Colluders) exchange(ctx context.Context, a *Attack, name string, task uint64, round uint32, delta []float64) ([]float64, error) {
	key := [2]uint64{task, uint64(round)}
	c.mu.Lock()
	r := c.rounds[key]
	if r == nil {
		r = &colludeRound{updates: map[string][]float64{}, done: make(chan struct{})}
		c.rounds[key] = r
	}
	r.updates[name] = delta
	if len(r.updates) == c.size {
		close(r.done)
	}
	c.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	names := make([]string, 0, len(r.updates))
	for n := range r.updates {
		names = append(names, n)
	}
	sort.Strings(names)
	all := make([][]float64, len(names))
	for i, n := range names {
		all[i] = r.updates[n]
	}
	c.mu.Unlock()
	d := len(delta)
	mean := make([]float64, d)
	for _, u := range all {
		for j, v := range u {
			mean[j] += v / float64(len(all))
		}
	}
	out := make([]float64, d)
	switch a.Name {
	case "sybil", "sybil-noisy":
		rng := datasets.NewRand(a.Seed^uint64(round), "sybil/"+name)
		base := all[0]
		rel := 0.005
		if a.Name == "sybil-noisy" {
			rel = 0.05
		}
		sd := rel * l2(base) / math.Sqrt(float64(d))
		for j := range out {
			out[j] = base[j] + sd*rng.NormFloat64()
		}
	case "min-max", "min-sum":
		copy(out, minMaxSum(all, mean, a.Name == "min-sum"))
	case "adaptive":
		copy(out, adaptive(all, mean, datasets.NewRand(a.Seed^uint64(round)<<32^task, "adaptive/"+name)))
	case "alie":
		// z from Baruch et al.: s = ⌊n/2+1⌋ − f supporters needed; z = Φ⁻¹((n−s)/n).
		s := c.n/2 + 1 - c.f
		z := 1.0
		if s > 0 && s < c.n {
			z = math.Sqrt2 * math.Erfinv(2*float64(c.n-s)/float64(c.n)-1)
		}
		for j, sd := range spread(all, mean) {
			out[j] = mean[j] - z*sd
		}
	case "ipm":
		for j := range out {
			out[j] = -0.5 * mean[j]
		}
	case "fang", "fang-apart":
		// Fang et al.'s partial knowledge: the direction each coordinate
		// would move (the sign of the benign mean step) and the benign
		// spread, both from the colluders' own honest updates; then a value
		// 3 to 4 standard deviations on the other side of the mean.
		rng := datasets.NewRand(a.Seed^uint64(round)<<32^task, "fang/"+name)
		for j, sd := range spread(all, mean) {
			z := 3 + rng.Float64()
			switch {
			case mean[j] > 0:
				out[j] = mean[j] - z*sd
			case mean[j] < 0:
				out[j] = mean[j] + z*sd
			default:
				out[j] = mean[j]
			}
		}
		if a.Name == "fang-apart" {
			addNoise(out, FangApart*medianPairDist(all), rng)
		}
	}
	return out, nil
}

// medianPairDist is the median Euclidean distance between the updates
// all (0 for fewer than two).
func medianPairDist(all [][]float64) float64 {
	var ds []float64
	for i := range all {
		for k := i + 1; k < len(all); k++ {
			ds = append(ds, dist(all[i], all[k]))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	sort.Float64s(ds)
	return ds[len(ds)/2]
}

// addNoise adds to v a Gaussian direction of norm size.
func addNoise(v []float64, size float64, rng *rand.Rand) {
	e := make([]float64, len(v))
	for j := range e {
		e[j] = rng.NormFloat64()
	}
	if n := l2(e); n > 0 {
		for j := range v {
			v[j] += size * e[j] / n
		}
	}
}

// spread is the coordinate-wise standard deviation of the updates all
// about their mean (the population form, over len(all)).
func spread(all [][]float64, mean []float64) []float64 {
	sd := make([]float64, len(mean))
	for j := range sd {
		var v float64
		for _, u := range all {
			v += (u[j] - mean[j]) * (u[j] - mean[j])
		}
		sd[j] = math.Sqrt(v / float64(len(all)))
	}
	return sd
}

// minMaxSum is Shejwalkar and Houmansadr's AGR-agnostic attack on the
// benign updates all (mean μ): μ + γ·p with p = −σ (the coordinate-wise
// standard deviation, their "inverse std" direction) and the largest γ,
// found by halving from 10 as in the paper, whose distances to the benign
// updates stay within theirs: the largest (min-max) or the largest sum of
// squares (min-sum).
func minMaxSum(all [][]float64, mean []float64, sum bool) []float64 {
	d := len(mean)
	p := spread(all, mean)
	for j := range p {
		p[j] = -p[j]
	}
	score := func(x []float64) float64 { // max distance, or sum of squares
		var s float64
		for _, u := range all {
			dd := dist(x, u)
			if sum {
				s += dd * dd
			} else {
				s = math.Max(s, dd)
			}
		}
		return s
	}
	var bound float64
	for _, u := range all {
		bound = math.Max(bound, score(u))
	}
	at := func(g float64) []float64 {
		x := make([]float64, d)
		for j := range x {
			x[j] = mean[j] + g*p[j]
		}
		return x
	}
	gamma, step, best := 10.0, 5.0, 0.0
	for step > 1e-5 {
		if score(at(gamma)) <= bound {
			best = gamma
			gamma += step
		} else {
			gamma -= step
		}
		step /= 2
	}
	return at(best)
}

// adaptive is an update at cosine AdaptiveCosine to the benign mean and
// AdaptiveNorm times the benign updates' mean norm, its direction off the
// mean drawn by rng (each colluder its own, so no two are near-duplicates).
func adaptive(all [][]float64, mean []float64, rng interface{ NormFloat64() float64 }) []float64 {
	d := len(mean)
	var norm float64
	for _, u := range all {
		norm += l2(u) / float64(len(all))
	}
	mn := l2(mean)
	out := make([]float64, d)
	if mn == 0 || norm == 0 {
		return out
	}
	// v: a random direction orthogonal to the mean, unit length.
	v := make([]float64, d)
	var dot float64
	for j := range v {
		v[j] = rng.NormFloat64()
		dot += v[j] * mean[j]
	}
	for j := range v {
		v[j] -= dot / (mn * mn) * mean[j]
	}
	vn := l2(v)
	if vn == 0 {
		return out
	}
	c := AdaptiveCosine
	sn := math.Sqrt(1 - c*c)
	for j := range out {
		out[j] = AdaptiveNorm * norm * (c*mean[j]/mn + sn*v[j]/vn)
	}
	return out
}

func l2(a []float64) float64 {
	s := 0.0
	for _, v := range a {
		s += v * v
	}
	return math.Sqrt(s)
}

func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}
