package module

import (
	"encoding/json"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Module is one on-chain system.
type Module interface {
	// Name names the module and its section of the genesis app_state.
	Name() string
	// Prefixes are the state key prefixes (a letter and a slash, "t/")
	// the module owns; no two modules share one.
	Prefixes() []string
	// Msgs lists the message kinds (pb.Msg.Kind) the module handles.
	Msgs() []string
	// Deliver checks msg, signed by signer, against c's state and applies
	// it. On error the router drops every write Deliver made. Errors wrap
	// a protocol sentinel, which decides the result code.
	Deliver(c *Context, signer *pb.Participant, msg *pb.Msg) error
	// EndBlock runs once per block after its transactions.
	EndBlock(c *Context) error
	// QueryPaths lists the query paths (protocol.Path*) the module answers.
	QueryPaths() []string
	// Query answers q from committed state r: either with the state key
	// whose value answers it (the app reads it and proves it against the
	// app hash) or with a value that has no proof (lists).
	Query(r Reader, q protocol.Query) (key string, value []byte, err error)
	// InitGenesis stores the module's genesis section (nil when the
	// genesis has none) at chain start.
	InitGenesis(c *Context, section json.RawMessage) error
}

// QueryLimiter is implemented by a module whose state caps the size of a
// query answer (the training module's max_query_bytes). The app refuses a
// larger answer, of any module, with protocol.ErrOverLimit.
type QueryLimiter interface {
	MaxQueryBytes(r Reader) (uint64, error)
}

// Base implements the optional parts of Module as no-ops; embed it.
type Base struct{}

// Msgs handles no message.
func (Base) Msgs() []string { return nil }

// Deliver is never called for a module with no messages.
func (Base) Deliver(*Context, *pb.Participant, *pb.Msg) error { return protocol.ErrDecode }

// EndBlock does nothing.
func (Base) EndBlock(*Context) error { return nil }

// QueryPaths answers no query.
func (Base) QueryPaths() []string { return nil }

// Query is never called for a module with no query paths.
func (Base) Query(Reader, protocol.Query) (string, []byte, error) {
	return "", nil, protocol.ErrUnknownQuery
}

// InitGenesis accepts only an empty section.
func (Base) InitGenesis(_ *Context, section json.RawMessage) error {
	if len(section) == 0 || string(section) == "null" || string(section) == "{}" {
		return nil
	}
	return protocol.ErrInvalidMsg
}
