package records

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Module is the records module.
type Module struct {
	module.Base // no end-of-block work
}

var _ module.Module = Module{}

// Name is "records".
func (Module) Name() string { return "records" }

// Prefixes are the logs', events', grants', reviews' and counters'.
func (Module) Prefixes() []string { return []string{"l/", "a/", "x/", "g/", "v/", "k/"} }

// Msgs are the records messages.
func (Module) Msgs() []string {
	return []string{"anchor_records", "grant_access", "revoke_grant", "break_glass", "close_review", "log_access"}
}

// Deliver checks and applies one records message.
func (Module) Deliver(ctx *module.Context, signer *pb.Participant, msg *pb.Msg) error {
	c := exec{ctx}
	switch m := msg.Sum.(type) {
	case *pb.Msg_AnchorRecords:
		return c.anchor(signer, m.AnchorRecords)
	case *pb.Msg_GrantAccess:
		return c.grant(signer, m.GrantAccess)
	case *pb.Msg_RevokeGrant:
		return c.revoke(signer, m.RevokeGrant)
	case *pb.Msg_BreakGlass:
		return c.breakGlass(signer, m.BreakGlass)
	case *pb.Msg_CloseReview:
		return c.closeReview(signer, m.CloseReview)
	case *pb.Msg_LogAccess:
		return c.logAccess(signer, m.LogAccess)
	}
	return fmt.Errorf("%w: %s is not a records message", protocol.ErrDecode, msg.Kind())
}

// QueryPaths is /records (see protocol.PathRecords for its forms).
func (Module) QueryPaths() []string { return []string{protocol.PathRecords} }

// Query answers a records query: a proved record (a log head, a grant, a
// review) by its key, or a proof or a run of events by value.
func (Module) Query(r module.Reader, q protocol.Query) (string, []byte, error) {
	if key, ok := protocol.RecordsKey(q); ok {
		return key, nil, nil
	}
	bad := func(format string, a ...any) (string, []byte, error) {
		return "", nil, fmt.Errorf("%w: %s", protocol.ErrBadQuery, fmt.Sprintf(format, a...))
	}
	nums := func(args []string) ([]uint64, error) {
		out := make([]uint64, len(args))
		for i, a := range args {
			v, err := strconv.ParseUint(a, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %q is not a number", protocol.ErrBadQuery, a)
			}
			out[i] = v
		}
		return out, nil
	}
	if len(q.Args) == 0 {
		return bad("want %s/{log|access|grant|review|proof|consistency|events}/...", protocol.PathRecords)
	}
	switch q.Args[0] {
	case "proof", "consistency":
		if len(q.Args) != 5 || (q.Args[1] != protocol.LogRecords && q.Args[1] != protocol.LogAccess) {
			return bad("want %s/%s/{log|access}/{hex hospital}/{n}/{size}", protocol.PathRecords, q.Args[0])
		}
		pub, err := protocol.ParseHospital(q.Args[2])
		if err != nil {
			return "", nil, err
		}
		n, err := nums(q.Args[3:])
		if err != nil {
			return "", nil, err
		}
		l := recordLog(pub)
		if q.Args[1] == protocol.LogAccess {
			l = accessLog(pub)
		}
		var hashes [][]byte
		if q.Args[0] == "proof" {
			hashes, err = l.inclusion(r, n[0], n[1])
		} else {
			hashes, err = l.consistency(r, n[0], n[1])
		}
		if err != nil {
			return "", nil, err
		}
		bz, err := (&pb.Hashes{Hashes: hashes}).Marshal()
		return "", bz, err
	case "events":
		if len(q.Args) != 4 {
			return bad("want %s/events/{hex hospital}/{from}/{count}", protocol.PathRecords)
		}
		pub, err := protocol.ParseHospital(q.Args[1])
		if err != nil {
			return "", nil, err
		}
		n, err := nums(q.Args[2:])
		if err != nil {
			return "", nil, err
		}
		from, count := n[0], n[1]
		h, err := accessLog(pub).head(r)
		if err != nil {
			return "", nil, err
		}
		if count > protocol.MaxRecordsList || from > h.TreeSize || count > h.TreeSize-from {
			return bad("events [%d, %d+%d) are not within the log's %d (at most %d at once)", from, from, count, h.TreeSize, protocol.MaxRecordsList)
		}
		var list pb.AccessEventList
		for i := from; i < from+count; i++ {
			bz, err := r.Get(eventKey(pub, i))
			if err != nil {
				return "", nil, fmt.Errorf("%w: %v", protocol.ErrInternal, err)
			}
			var e pb.AccessEvent
			if err := e.Unmarshal(bz); err != nil {
				return "", nil, fmt.Errorf("%w: event %d: %v", protocol.ErrInternal, i, err)
			}
			list.Events = append(list.Events, e)
		}
		bz, err := list.Marshal()
		return "", bz, err
	}
	return bad("unknown records query %q", q.Args[0])
}

// Genesis is the module's genesis section: {"logs": []}. Logs, grants
// and reviews grow from the chain's first block on.
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
		return fmt.Errorf("%w: records: genesis logs are not supported; start with none", protocol.ErrInvalidMsg)
	}
	return nil
}
