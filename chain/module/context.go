package module

import (
	"encoding/binary"
	"fmt"
	"strconv"

	abci "github.com/cometbft/cometbft/abci/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// SidePrefix starts a module's side keys: SideKey(prefix, rest). They are
// stored and committed with the state, but outside the Merkle state that
// the app hash covers, so they must be authenticated by something inside
// it (a Merkle root the module keeps under a normal key). KeysWithPrefix
// does not list them.
const SidePrefix = "\x01"

// SideKey is the side key rest under one of a module's state prefixes.
func SideKey(prefix, rest string) string { return SidePrefix + prefix + rest }

// Reader reads one version of the key/value state.
type Reader interface {
	// Get returns the value at key, or nil, nil when there is none.
	Get(key string) ([]byte, error)
	// KeysWithPrefix lists the keys that start with prefix, sorted.
	KeysWithPrefix(prefix string) []string
	// View returns the value at key without copying it (nil when there
	// is none): it must not be changed, and not be used after release.
	// Large values are read this way, a block at a time.
	View(key string) (value []byte, release func(), err error)
}

// Store is one staged version of the state.
type Store interface {
	Reader
	// Set stages a write; Delete stages a delete.
	Set(key string, value []byte)
	Delete(key string)
}

// Context is one execution of a message or an end of block.
type Context struct {
	State   State
	Height  int64 // of the block being executed (CheckTx: the next one)
	ChainID string
	// Check is set in CheckTx: a handler checks everything but may skip
	// work whose result only FinalizeBlock keeps (a drawn model, say).
	Check  bool
	Events []abci.Event
	// BeforeAggregate, when set (tests), runs just before an aggregation.
	BeforeAggregate func()
}

// Emit records an event with indexed attributes given as key, value pairs.
func (c *Context) Emit(typ string, kv ...string) {
	ev := abci.Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Attributes = append(ev.Attributes, abci.EventAttribute{Key: kv[i], Value: kv[i+1], Index: true})
	}
	c.Events = append(c.Events, ev)
}

// U64 formats an event value.
func U64(v uint64) string { return strconv.FormatUint(v, 10) }

// State gives typed access to a Store.
type State struct {
	Store
}

type marshaler interface{ Marshal() ([]byte, error) }
type unmarshaler interface{ Unmarshal([]byte) error }

// Load reads key into into and reports whether it was there. A read or
// decode failure wraps protocol.ErrInternal: state the app wrote is broken.
func (s State) Load(key string, into unmarshaler) (bool, error) { return Load(s, key, into) }

// Load is State.Load over any Reader, such as the committed state a
// query reads.
func Load(r Reader, key string, into unmarshaler) (bool, error) {
	bz, err := r.Get(key)
	if err != nil {
		return false, fmt.Errorf("%w: read %q: %v", protocol.ErrInternal, key, err)
	}
	if bz == nil {
		return false, nil
	}
	if err := into.Unmarshal(bz); err != nil {
		return false, fmt.Errorf("%w: decode %q: %v", protocol.ErrInternal, key, err)
	}
	return true, nil
}

// Save writes m at key. Marshalling the app's own records cannot fail;
// if it does, an invariant is broken and Save panics (the app turns that
// into a halt with the reason, never into a silent fork).
func (s State) Save(key string, m marshaler) {
	bz, err := m.Marshal()
	if err != nil {
		panic(fmt.Sprintf("module: marshal state %q: %v", key, err))
	}
	s.Set(key, bz)
}

// Uint64At reads a big-endian counter (0 when absent).
func (s State) Uint64At(key string) (uint64, error) {
	bz, err := s.Get(key)
	if err != nil {
		return 0, fmt.Errorf("%w: read %q: %v", protocol.ErrInternal, key, err)
	}
	if len(bz) == 0 {
		return 0, nil
	}
	if len(bz) != 8 {
		return 0, fmt.Errorf("%w: %q holds %d bytes, want 8", protocol.ErrInternal, key, len(bz))
	}
	return binary.BigEndian.Uint64(bz), nil
}

// SetUint64 writes a big-endian counter.
func (s State) SetUint64(key string, v uint64) {
	s.Set(key, binary.BigEndian.AppendUint64(nil, v))
}

// ParticipantKey is the state key of the participant with key pub; the
// app owns the "p/" prefix.
func ParticipantKey(pub []byte) string { return protocol.ParticipantKey(pub) }

// Participant reads a participant, or nil when pub is not one.
func (s State) Participant(pub []byte) (*pb.Participant, error) {
	var p pb.Participant
	ok, err := s.Load(ParticipantKey(pub), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// RequireRole refuses a signer whose role is not want.
func RequireRole(p *pb.Participant, want pb.Role, action string) error {
	if p.Role != want {
		return fmt.Errorf("%w: %s is a %s; only a %s may %s", protocol.ErrUnauthorized, p.Name, protocol.RoleName(p.Role), protocol.RoleName(want), action)
	}
	return nil
}
