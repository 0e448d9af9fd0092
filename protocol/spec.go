package protocol

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"

	"github.com/fedledger/fedledger/aggregator"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// ValidateSpec checks everything about a task spec that needs no chain
// state, and sorts its invited hospitals by key (the order the chain keeps
// them in). The chain then checks that each invited key is a hospital,
// draws the initial model when the spec leaves it empty, and calls
// CheckInitialModel. Errors wrap ErrInvalidMsg.
func ValidateSpec(s *pb.TaskSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: task spec: "+format, append([]any{ErrInvalidMsg}, a...)...)
	}
	if _, err := s.Model.NumParams(); err != nil {
		return bad("%v", err)
	}
	if _, err := aggregator.NewRule(s.Rule, RuleParams(s)); err != nil {
		return bad("%v", err)
	}
	if err := ServerOptParams(s).Validate(); err != nil {
		return bad("server_opt: %v", err)
	}
	if s.Schema != nil {
		n, err := SchemaInputs(s.Schema)
		if err != nil {
			return err
		}
		if int(s.Model.InputDim) != n {
			return bad("the model takes %d inputs and the schema gives %d", s.Model.InputDim, n)
		}
	}
	if s.Feedback && !s.Reputation {
		return bad("feedback needs reputation: the verdicts are reputation evidence (set reputation, or drop feedback)")
	}
	if len(s.DataScope) > MaxScopeBytes {
		return bad("data_scope is %d bytes, at most %d", len(s.DataScope), MaxScopeBytes)
	}
	if s.Rounds == 0 || s.Rounds > MaxRounds {
		return bad("rounds is %d, want 1 to %d", s.Rounds, MaxRounds)
	}
	if s.CommitWindow == 0 || s.CommitWindow > MaxWindow || s.RevealWindow == 0 || s.RevealWindow > MaxWindow {
		return bad("commit_window %d and reveal_window %d must be 1 to %d blocks", s.CommitWindow, s.RevealWindow, MaxWindow)
	}
	if len(s.Hospitals) == 0 || len(s.Hospitals) > MaxInvited {
		return bad("%d hospitals invited, want 1 to %d", len(s.Hospitals), MaxInvited)
	}
	if s.Feedback && len(s.Hospitals) > MaxFeedbackInvited {
		return bad("%d hospitals invited with feedback, at most %d (each scores every other: split the federation, or drop feedback)", len(s.Hospitals), MaxFeedbackInvited)
	}
	sort.Slice(s.Hospitals, func(i, j int) bool { return bytes.Compare(s.Hospitals[i], s.Hospitals[j]) < 0 })
	for i, h := range s.Hospitals {
		if i > 0 && bytes.Equal(h, s.Hospitals[i-1]) {
			return bad("hospital %X invited twice", h)
		}
	}
	if s.MinParticipants == 0 || int(s.MinParticipants) > len(s.Hospitals) {
		return bad("min_participants is %d, want 1 to the %d invited hospitals", s.MinParticipants, len(s.Hospitals))
	}
	if s.FracBits > MaxTaskFracBits {
		return bad("frac_bits %d > %d", s.FracBits, MaxTaskFracBits)
	}
	switch s.Compression.Width {
	case pb.WIDTH_UNSPECIFIED, pb.WIDTH_INT8, pb.WIDTH_INT16, pb.WIDTH_INT32, pb.WIDTH_INT64:
	default:
		return bad("compression width %v unknown; use int8, int16, int32 or int64", s.Compression.Width)
	}
	if s.Compression.TopkPpm > 1_000_000 {
		return bad("compression topk_ppm %d exceeds 1000000 (all coordinates)", s.Compression.TopkPpm)
	}
	return nil
}

// InitialModelEmpty reports whether a spec leaves its initial model to the
// chain, which then draws it with DrawInitialModel.
func InitialModelEmpty(s *pb.TaskSpec) bool {
	im := &s.InitialModel
	return im.Len == 0 && len(im.Data) == 0 && !im.Sparse && len(im.Scales) == 0
}

// CheckInitialModel checks a spec's (given or drawn) initial model against
// its model and scale. Errors wrap ErrInvalidMsg.
func CheckInitialModel(s *pb.TaskSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: task spec: "+format, append([]any{ErrInvalidMsg}, a...)...)
	}
	n, err := s.Model.NumParams()
	if err != nil {
		return bad("%v", err)
	}
	im := &s.InitialModel
	if err := im.Validate(); err != nil {
		return bad("initial_model: %v", err)
	}
	if int(im.Len) != n {
		return bad("initial_model has %d values, a %s with input_dim %d and hidden_dim %d has %d", im.Len, s.Model.Arch, s.Model.InputDim, s.Model.HiddenDim, n)
	}
	if im.FracBits != s.FracBits {
		return bad("initial_model frac_bits %d differ from the task's %d", im.FracBits, s.FracBits)
	}
	if im.Sparse || len(im.Scales) > 0 || (im.Width != pb.WIDTH_INT32 && im.Width != pb.WIDTH_INT64) {
		return bad("initial_model must be a dense int32 or int64 vector without scales")
	}
	return nil
}

// RuleParams converts a spec's rule parameters for package aggregator.
func RuleParams(s *pb.TaskSpec) aggregator.RuleParams {
	p := s.RuleParams
	return aggregator.RuleParams{F: int(p.F), M: int(p.M), BetaMicro: p.BetaMicro, Clip: p.Clip, Iters: int(p.Iters)}
}

// ModelVectors is how many model-sized vectors of int64 a round's close
// of the task holds beyond its inputs: the new model, one moment for
// fedavgm or two for the adaptive optimizers, and centeredclip's centre.
func ModelVectors(s *pb.TaskSpec) uint64 {
	n := uint64(1)
	switch s.ServerOpt.Name {
	case "fedavgm":
		n++
	case "fedadagrad", "fedadam", "fedyogi":
		n += 2
	}
	if s.Rule == "centeredclip" {
		n++
	}
	return n
}

// ServerOptParams converts a spec's server optimizer to fixed point:
// x_micro·2^fracBits/10^6, rounded half up, in integers (saturating at
// MaxInt64).
func ServerOptParams(s *pb.TaskSpec) aggregator.ServerOptParams {
	fix := func(micro uint64) int64 {
		hi, lo := bits.Mul64(micro, uint64(1)<<s.FracBits)
		lo, c := bits.Add64(lo, 500_000, 0)
		hi += c
		if hi >= 1_000_000 {
			return math.MaxInt64
		}
		q, _ := bits.Div64(hi, lo, 1_000_000)
		if q > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(q)
	}
	o := s.ServerOpt
	return aggregator.ServerOptParams{
		Name: o.Name, FracBits: s.FracBits,
		LR: fix(o.LrMicro), Beta1: fix(o.Beta1Micro), Beta2: fix(o.Beta2Micro), Tau: fix(o.TauMicro),
	}
}

// TopK is how many coordinates a sparse update of a task may carry:
// ⌈len·topk_ppm/10^6⌉, at least 1.
func TopK(s *pb.TaskSpec) uint32 {
	n := uint64(s.InitialModel.Len)
	k := (n*uint64(s.Compression.TopkPpm) + 999_999) / 1_000_000
	return uint32(max(k, 1))
}

// TensorSizes returns the sizes of the model's tensors in the flat
// parameter order (see pb.ModelSpec.NumParams): the segments that carry
// one scale each in an int8 or int16 update.
func TensorSizes(m pb.ModelSpec) ([]uint32, error) {
	if _, err := m.NumParams(); err != nil {
		return nil, err
	}
	if m.Arch == pb.ArchLogReg {
		return []uint32{m.InputDim, 1}, nil
	}
	return []uint32{m.InputDim * m.HiddenDim, m.HiddenDim, m.HiddenDim, 1}, nil
}

// Encodings are the update encodings a task may ask for (ParseEncoding).
var Encodings = []string{"int32", "int16", "int8", "topk"}

// ParseEncoding maps an encoding name to a task's compression: "int32"
// (dense, no compression), "int16", "int8", or "topk" (int8 keeping
// topkPpm millionths of the coordinates).
func ParseEncoding(name string, topkPpm uint32) (pb.Compression, error) {
	switch name {
	case "int32":
		return pb.Compression{Width: pb.WIDTH_INT32}, nil
	case "int16":
		return pb.Compression{Width: pb.WIDTH_INT16}, nil
	case "int8":
		return pb.Compression{Width: pb.WIDTH_INT8}, nil
	case "topk":
		if topkPpm == 0 || topkPpm > 1_000_000 {
			return pb.Compression{}, fmt.Errorf("top-k share %d ppm; want 1 to 1000000", topkPpm)
		}
		return pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: topkPpm}, nil
	}
	return pb.Compression{}, fmt.Errorf("unknown encoding %q (known: int32, int16, int8, topk)", name)
}

// Schema limits.
const (
	MaxSchemaColumns = 512
	MaxSchemaLevels  = 64
	MaxSchemaName    = 128
)

// SchemaInputs checks a task's data schema and returns how many model
// inputs it gives: one per numeric column, one per level of a
// categorical one.
func SchemaInputs(s *pb.DataSchema) (int, error) {
	bad := func(format string, a ...any) (int, error) {
		return 0, fmt.Errorf("%w: task spec: schema: "+format, append([]any{ErrInvalidMsg}, a...)...)
	}
	name := func(what, v string) error {
		if v == "" || len(v) > MaxSchemaName || !utf8.ValidString(v) {
			return fmt.Errorf("%w: task spec: schema: %s %q must be 1 to %d bytes of UTF-8", ErrInvalidMsg, what, v, MaxSchemaName)
		}
		return nil
	}
	if err := name("label", s.Label); err != nil {
		return 0, err
	}
	if len(s.Columns) == 0 || len(s.Columns) > MaxSchemaColumns {
		return bad("%d columns, want 1 to %d", len(s.Columns), MaxSchemaColumns)
	}
	cols := map[string]bool{}
	for _, c := range s.Columns {
		if err := name("column", c); err != nil {
			return 0, err
		}
		if cols[c] || c == s.Label {
			return bad("column %q is listed twice or is the label", c)
		}
		cols[c] = true
	}
	n := len(s.Columns)
	seen := map[string]bool{}
	for _, c := range s.Categorical {
		if !cols[c.Column] || seen[c.Column] {
			return bad("categorical column %q is not one of the columns, or is declared twice", c.Column)
		}
		seen[c.Column] = true
		if len(c.Levels) == 0 || len(c.Levels) > MaxSchemaLevels {
			return bad("categorical column %q has %d levels, want 1 to %d", c.Column, len(c.Levels), MaxSchemaLevels)
		}
		lv := map[string]bool{}
		for _, l := range c.Levels {
			if err := name("level", l); err != nil {
				return 0, err
			}
			if lv[l] {
				return bad("level %q of column %q is declared twice", l, c.Column)
			}
			lv[l] = true
		}
		n += len(c.Levels) - 1
	}
	return n, nil
}
