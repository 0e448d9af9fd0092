package sim

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
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
var Attacks = []string{"label-flip", "sign-flip", "scale", "noise", "free-rider", "free-rider-echo", "sybil", "alie", "ipm", "commit-no-reveal"}

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
func Collusive(name string) bool { return name == "sybil" || name == "alie" || name == "ipm" }

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

// Transform turns the honest update delta into the malicious one. prevStep
// is the last global step (nil before round 2).
func (a *Attack) Transform(ctx context.Context, name string, task uint64, round uint32, delta, prevStep []float64) ([]float64, error) {
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
		rng := datasets.NewRand(a.Seed^uint64(round)<<32^task, "attack-noise/"+name)
		for i := range out {
			out[i] = rng.NormFloat64()
		}
	case "free-rider":
	case "free-rider-echo":
		copy(out, prevStep)
	case "sybil", "alie", "ipm":
		if a.Colluders == nil {
			return nil, fmt.Errorf("sim: attack %s needs a Colluders group", a.Name)
		}
		return a.Colluders.exchange(ctx, a, name, task, round, delta)
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

var _ fl.Hook = hook{}

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
	bad, err := h.a.Transform(ctx, h.name, in.Task.Id, in.Round, delta, prevStep)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(in.Global))
	for i := range out {
		out[i] = in.Global[i] + bad[i]
	}
	return out, nil
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
	case "sybil":
		rng := datasets.NewRand(a.Seed^uint64(round), "sybil/"+name)
		base := all[0]
		var nrm float64
		for _, v := range base {
			nrm += v * v
		}
		sd := 0.005 * math.Sqrt(nrm/float64(d))
		for j := range out {
			out[j] = base[j] + sd*rng.NormFloat64()
		}
	case "alie":
		// z from Baruch et al.: s = ⌊n/2+1⌋ − f supporters needed; z = Φ⁻¹((n−s)/n).
		s := c.n/2 + 1 - c.f
		z := 1.0
		if s > 0 && s < c.n {
			z = math.Sqrt2 * math.Erfinv(2*float64(c.n-s)/float64(c.n)-1)
		}
		for j := range out {
			var v float64
			for _, u := range all {
				v += (u[j] - mean[j]) * (u[j] - mean[j])
			}
			sd := math.Sqrt(v / float64(len(all)))
			out[j] = mean[j] - z*sd
		}
	case "ipm":
		for j := range out {
			out[j] = -0.5 * mean[j]
		}
	}
	return out, nil
}
