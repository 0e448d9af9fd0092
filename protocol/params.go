package protocol

import "fmt"

// Params are the training module's consensus parameters: caps that bound
// what one task may make every validator do, checked before any work is
// done. They live in the genesis app_state (section "training", key
// "params"; a missing field takes its default) and in state, where a
// client reads them at PathParams. The constants in limits.go are the hard
// ceilings no genesis may raise them above.
type Params struct {
	// MaxParams caps the parameters of a task's model, times the
	// model-sized vectors the task keeps (ModelVectors: 1 for a plain
	// task, up to 4 for centeredclip with an adaptive server optimizer).
	MaxParams uint64 `json:"max_params"`
	// MaxHospitals caps the hospitals one task invites.
	MaxHospitals uint64 `json:"max_hospitals"`
	// MaxTaskValues caps invited hospitals × model parameters: the int64
	// values an aggregation holds at once (8 bytes each).
	MaxTaskValues uint64 `json:"max_task_values"`
	// MaxRounds caps a task's rounds.
	MaxRounds uint64 `json:"max_rounds"`
	// MaxWindow caps a commit or reveal window, in blocks.
	MaxWindow uint64 `json:"max_window"`
	// MaxChunks caps the chunks of one chunked reveal.
	MaxChunks uint64 `json:"max_chunks"`
	// MaxQueryBytes caps the size of one query answer.
	MaxQueryBytes uint64 `json:"max_query_bytes"`
}

// DefaultParams are the caps of a chain whose genesis names none: models
// of up to 2·10^6 parameters, 100 hospitals per task, 5·10^7 values held by
// one aggregation (400 MB as int64), 10^4 rounds, windows of 10^5 blocks,
// 64 chunks per reveal (32 MiB at 512 KiB chunks), 32 MiB query answers.
func DefaultParams() Params {
	return Params{
		MaxParams: 2_000_000, MaxHospitals: 100, MaxTaskValues: 50_000_000,
		MaxRounds: 10_000, MaxWindow: 100_000, MaxChunks: 64, MaxQueryBytes: 32 << 20,
	}
}

// WithDefaults returns p with every zero field set to its default.
func (p Params) WithDefaults() Params {
	d := DefaultParams()
	for _, f := range []struct{ v, def *uint64 }{
		{&p.MaxParams, &d.MaxParams}, {&p.MaxHospitals, &d.MaxHospitals}, {&p.MaxTaskValues, &d.MaxTaskValues},
		{&p.MaxRounds, &d.MaxRounds}, {&p.MaxWindow, &d.MaxWindow}, {&p.MaxChunks, &d.MaxChunks}, {&p.MaxQueryBytes, &d.MaxQueryBytes},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return p
}

// Validate checks that every cap is within its hard ceiling.
func (p Params) Validate() error {
	for _, c := range []struct {
		name     string
		v, limit uint64
	}{
		{"max_params", p.MaxParams, 1 << 24},
		{"max_hospitals", p.MaxHospitals, MaxInvited},
		{"max_task_values", p.MaxTaskValues, 1 << 30},
		{"max_rounds", p.MaxRounds, MaxRounds},
		{"max_window", p.MaxWindow, MaxWindow},
		{"max_chunks", p.MaxChunks, MaxChunks},
		{"max_query_bytes", p.MaxQueryBytes, 1 << 30},
	} {
		if c.v == 0 || c.v > c.limit {
			return fmt.Errorf("%w: params: %s is %d, want 1 to %d", ErrInvalidMsg, c.name, c.v, c.limit)
		}
	}
	return nil
}

// CheckSpec refuses a task spec that goes over a cap, with ErrOverLimit.
// It reads only the spec's declared shape: nothing is drawn or decoded.
//
// vectors is how many model-sized int64 vectors the task makes the chain
// hold while a round closes (ModelVectors): max_params bounds them
// together, so a task whose server optimizer or rule keeps more of them
// may have a smaller model, and no round's close costs more than the
// largest plain task's.
func (p Params) CheckSpec(n, vectors uint64, hospitals int, rounds, commitWindow, revealWindow uint32) error {
	over := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrOverLimit}, a...)...)
	}
	switch {
	case n > p.MaxParams:
		return over("the model has %d parameters; this chain's max_params is %d", n, p.MaxParams)
	case vectors > 1 && n > p.MaxParams/vectors:
		return over("the model has %d parameters and the task keeps %d model-sized vectors (the model, the server optimizer's moments, centeredclip's centre); %d × %d is over this chain's max_params %d: use a smaller model, or fedavg/fedavgm and another rule", n, vectors, vectors, n, p.MaxParams)
	case uint64(hospitals) > p.MaxHospitals:
		return over("%d hospitals invited; this chain's max_hospitals is %d", hospitals, p.MaxHospitals)
	case uint64(hospitals)*n > p.MaxTaskValues:
		return over("%d hospitals × %d parameters = %d values; this chain's max_task_values is %d", hospitals, n, uint64(hospitals)*n, p.MaxTaskValues)
	case uint64(rounds) > p.MaxRounds:
		return over("%d rounds; this chain's max_rounds is %d", rounds, p.MaxRounds)
	case uint64(max(commitWindow, revealWindow)) > p.MaxWindow:
		return over("a window of %d blocks; this chain's max_window is %d", max(commitWindow, revealWindow), p.MaxWindow)
	}
	return nil
}
