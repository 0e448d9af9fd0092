package protocol_test

import (
	"errors"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// TestSchemaInputs: a schema gives one input per numeric column and one
// per level of a categorical one; a malformed schema is refused as an
// invalid message, never counted.
func TestSchemaInputs(t *testing.T) {
	cat := func(col string, levels ...string) pb.CategoricalColumn {
		return pb.CategoricalColumn{Column: col, Levels: levels}
	}
	for _, c := range []struct {
		name string
		s    pb.DataSchema
		want int // -1: refused
	}{
		{"numeric", pb.DataSchema{Label: "y", Columns: []string{"a", "b"}}, 2},
		{"categorical", pb.DataSchema{Label: "y", Columns: []string{"a", "sex", "b"}, Categorical: []pb.CategoricalColumn{cat("sex", "f", "m", "x")}}, 5},
		{"no label", pb.DataSchema{Columns: []string{"a"}}, -1},
		{"no columns", pb.DataSchema{Label: "y"}, -1},
		{"label as column", pb.DataSchema{Label: "y", Columns: []string{"y"}}, -1},
		{"column twice", pb.DataSchema{Label: "y", Columns: []string{"a", "a"}}, -1},
		{"categorical not a column", pb.DataSchema{Label: "y", Columns: []string{"a"}, Categorical: []pb.CategoricalColumn{cat("b", "x")}}, -1},
		{"no levels", pb.DataSchema{Label: "y", Columns: []string{"a"}, Categorical: []pb.CategoricalColumn{cat("a")}}, -1},
		{"level twice", pb.DataSchema{Label: "y", Columns: []string{"a"}, Categorical: []pb.CategoricalColumn{cat("a", "x", "x")}}, -1},
		{"declared twice", pb.DataSchema{Label: "y", Columns: []string{"a"}, Categorical: []pb.CategoricalColumn{cat("a", "x"), cat("a", "z")}}, -1},
		{"not UTF-8", pb.DataSchema{Label: "y", Columns: []string{"\xff"}}, -1},
	} {
		n, err := protocol.SchemaInputs(&c.s)
		switch {
		case c.want < 0 && !errors.Is(err, protocol.ErrInvalidMsg):
			t.Errorf("%s: %d, %v; want refused", c.name, n, err)
		case c.want >= 0 && (err != nil || n != c.want):
			t.Errorf("%s: %d, %v; want %d", c.name, n, err, c.want)
		}
	}
}
