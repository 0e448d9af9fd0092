package records

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/fedledger/fedledger/chain/module"
	"github.com/fedledger/fedledger/protocol"
)

// PathLog is the query path of a hospital's log head.
const PathLog = "/records"

// Module is the records module.
type Module struct {
	module.Base // no messages and no end-of-block work yet
}

var _ module.Module = Module{}

// Name is "records".
func (Module) Name() string { return "records" }

// Prefixes is the log heads' prefix.
func (Module) Prefixes() []string { return []string{"l/"} }

// QueryPaths is /records.
func (Module) QueryPaths() []string { return []string{PathLog} }

// Query maps /records/{hex hospital key} to the hospital's log head.
func (Module) Query(_ module.Reader, q protocol.Query) (string, []byte, error) {
	if len(q.Args) != 1 {
		return "", nil, fmt.Errorf("%w: want %s/{hex hospital key}", protocol.ErrUnknownQuery, PathLog)
	}
	pub, err := hex.DecodeString(q.Args[0])
	if err != nil || len(pub) != 32 {
		return "", nil, fmt.Errorf("%w: %q is not a 32-byte hex public key", protocol.ErrBadQuery, q.Args[0])
	}
	return "l/" + string(pub), nil, nil
}

// Genesis is the module's genesis section: {"logs": []}. It holds no
// log yet; logs grow from the chain's first block on.
type Genesis struct {
	Logs []json.RawMessage `json:"logs"`
}

// InitGenesis accepts an empty section.
func (Module) InitGenesis(_ *module.Context, section json.RawMessage) error {
	if len(section) == 0 {
		return nil
	}
	var g Genesis
	if err := json.Unmarshal(section, &g); err != nil {
		return fmt.Errorf("%w: records: %v", protocol.ErrInvalidMsg, err)
	}
	if len(g.Logs) != 0 {
		return fmt.Errorf("%w: records: genesis logs are not supported yet; start with none", protocol.ErrInvalidMsg)
	}
	return nil
}
