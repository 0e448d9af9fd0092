package protocol

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// The records module's query paths, all under PathRecords:
//
//	/records/log/{hex hospital}        LogHead of the hospital's record log (proved)
//	/records/access/{hex hospital}     LogHead of its access log (proved)
//	/records/grant/{id}                Grant (proved)
//	/records/review/{id}               Review, a break-glass item (proved)
//	/records/proof/{log|access}/{hex hospital}/{index}/{size}
//	                                   Hashes: RFC 6962 inclusion proof of leaf
//	                                   index in the tree of that size
//	/records/consistency/{log|access}/{hex hospital}/{size1}/{size2}
//	                                   Hashes: RFC 6962 consistency proof
//	/records/events/{hex hospital}/{from}/{count}
//	                                   AccessEventList, from the access log
//
// Proofs and events carry no state proof of their own: a client checks
// them against a log head it read with one.
const PathRecords = "/records"

// Records limits: what one transaction may carry.
const (
	// MaxAnchorLeaves bounds the leaves of one AnchorRecords.
	MaxAnchorLeaves = 8192
	// MaxAccessEvents bounds the events of one LogAccess.
	MaxAccessEvents = 2048
	// MaxRecordsText bounds a break-glass reason and a review note, in bytes.
	MaxRecordsText = 1024
	// MaxScopeBytes bounds a dataset scope's name.
	MaxScopeBytes = 64
	// MaxRecordsList bounds the hashes or events of one list query.
	MaxRecordsList = 4096
)

// Record log names in query paths.
const (
	LogRecords = "log"
	LogAccess  = "access"
)

// RecordLogKey is the state key of a hospital's record log head.
func RecordLogKey(hospital []byte) string { return "l/" + string(hospital) }

// AccessLogKey is the state key of a hospital's access log head.
func AccessLogKey(hospital []byte) string { return "a/" + string(hospital) }

// GrantKey is the state key of a grant.
func GrantKey(id uint64) string { return "g/" + string(binary.BigEndian.AppendUint64(nil, id)) }

// ReviewKey is the state key of a break-glass review item.
func ReviewKey(id uint64) string { return "v/" + string(binary.BigEndian.AppendUint64(nil, id)) }

// RecordLogPath is the query path of a hospital's record log head.
func RecordLogPath(hospital []byte) string {
	return PathRecords + "/" + LogRecords + "/" + hex.EncodeToString(hospital)
}

// AccessLogPath is the query path of a hospital's access log head.
func AccessLogPath(hospital []byte) string {
	return PathRecords + "/" + LogAccess + "/" + hex.EncodeToString(hospital)
}

// GrantPath is the query path of a grant.
func GrantPath(id uint64) string { return fmt.Sprintf("%s/grant/%d", PathRecords, id) }

// ReviewPath is the query path of a review item.
func ReviewPath(id uint64) string { return fmt.Sprintf("%s/review/%d", PathRecords, id) }

// InclusionPath is the query path of an inclusion proof in a hospital's
// record (LogRecords) or access (LogAccess) log.
func InclusionPath(log string, hospital []byte, index, size uint64) string {
	return fmt.Sprintf("%s/proof/%s/%x/%d/%d", PathRecords, log, hospital, index, size)
}

// ConsistencyPath is the query path of a consistency proof.
func ConsistencyPath(log string, hospital []byte, size1, size2 uint64) string {
	return fmt.Sprintf("%s/consistency/%s/%x/%d/%d", PathRecords, log, hospital, size1, size2)
}

// EventsPath is the query path of a run of a hospital's access events.
func EventsPath(hospital []byte, from, count uint64) string {
	return fmt.Sprintf("%s/events/%x/%d/%d", PathRecords, hospital, from, count)
}

// RecordsKey returns the state key that answers a proved records query
// (a log head, a grant or a review), and false for every other query.
func RecordsKey(q Query) (string, bool) {
	if q.Path != PathRecords || len(q.Args) != 2 {
		return "", false
	}
	switch q.Args[0] {
	case LogRecords, LogAccess:
		pub, err := ParseHospital(q.Args[1])
		if err != nil {
			return "", false
		}
		if q.Args[0] == LogRecords {
			return RecordLogKey(pub), true
		}
		return AccessLogKey(pub), true
	case "grant", "review":
		id, err := strconv.ParseUint(q.Args[1], 10, 64)
		if err != nil || id == 0 {
			return "", false
		}
		if q.Args[0] == "grant" {
			return GrantKey(id), true
		}
		return ReviewKey(id), true
	}
	return "", false
}

// ParseHospital reads a 32-byte public key in hex.
func ParseHospital(s string) ([]byte, error) {
	pub, err := hex.DecodeString(s)
	if err != nil || len(pub) != 32 {
		return nil, fmt.Errorf("%w: %q is not a 32-byte hex public key", ErrBadQuery, s)
	}
	return pub, nil
}

// GrantInForce reports whether g lets agent read a record for purpose in
// the state of block height: g names agent, is not revoked by then, has
// not expired, and is for that purpose. Scope is the record server's to
// check (the chain does not know which records a scope holds).
func GrantInForce(g *pb.Grant, agent []byte, purpose pb.Purpose, height uint64) error {
	switch {
	case string(g.Grantee) != string(agent):
		return fmt.Errorf("%w: grant %d is to another participant", ErrGrantInactive, g.Id)
	case height < g.GrantedHeight:
		return fmt.Errorf("%w: grant %d starts at height %d, after %d", ErrGrantInactive, g.Id, g.GrantedHeight, height)
	case g.RevokedHeight != 0 && height >= g.RevokedHeight:
		return fmt.Errorf("%w: grant %d was revoked at height %d", ErrGrantInactive, g.Id, g.RevokedHeight)
	case height >= g.ExpiresHeight:
		return fmt.Errorf("%w: grant %d expired at height %d", ErrGrantInactive, g.Id, g.ExpiresHeight)
	case g.Purpose != purpose:
		return fmt.Errorf("%w: grant %d is for %s, not %s", ErrGrantInactive, g.Id, PurposeName(g.Purpose), PurposeName(purpose))
	}
	return nil
}

var purposeNames = map[pb.Purpose]string{
	pb.PURPOSE_CARE: "care", pb.PURPOSE_RESEARCH: "research", pb.PURPOSE_AUDIT: "audit", pb.PURPOSE_BREAK_GLASS: "break-glass",
}

// PurposeName is a purpose's name as the CLI writes it.
func PurposeName(p pb.Purpose) string {
	if n, ok := purposeNames[p]; ok {
		return n
	}
	return "unspecified"
}

// ParsePurpose reads a purpose name (care, research, audit).
func ParsePurpose(s string) (pb.Purpose, error) {
	for p, n := range purposeNames {
		if n == s && p != pb.PURPOSE_BREAK_GLASS {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown purpose %q (want care, research or audit; break-glass has its own command)", s)
}

var scopeNames = map[pb.ScopeKind]string{pb.SCOPE_RECORD: "record", pb.SCOPE_PATIENT: "patient", pb.SCOPE_DATASET: "dataset"}

// ScopeName is a scope kind's name.
func ScopeName(k pb.ScopeKind) string {
	if n, ok := scopeNames[k]; ok {
		return n
	}
	return "unspecified"
}

// ParseScope reads a scope kind name (record, patient, dataset).
func ParseScope(s string) (pb.ScopeKind, error) {
	for k, n := range scopeNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown scope %q (want record, patient or dataset)", s)
}

// CheckScope checks a grant's scope shape: 32 bytes for a record or a
// patient, 1 to MaxScopeBytes for a dataset name.
func CheckScope(kind pb.ScopeKind, scope []byte) error {
	switch kind {
	case pb.SCOPE_RECORD, pb.SCOPE_PATIENT:
		if len(scope) != 32 {
			return fmt.Errorf("%w: a %s scope is 32 bytes, not %d", ErrInvalidMsg, ScopeName(kind), len(scope))
		}
	case pb.SCOPE_DATASET:
		if len(scope) == 0 || len(scope) > MaxScopeBytes {
			return fmt.Errorf("%w: a dataset scope is 1 to %d bytes, not %d", ErrInvalidMsg, MaxScopeBytes, len(scope))
		}
	default:
		return fmt.Errorf("%w: unknown scope kind %d", ErrInvalidMsg, kind)
	}
	return nil
}

// ErrNotInLog is the error of a leaf, event or log that its proof does
// not tie to the log head it is checked against: altered, or never there.
var ErrNotInLog = errors.New("not in the log")

// VerifyLeaf checks that leaf (a record's 32-byte keyed hash) is leaf
// index of the log whose head is head, by an RFC 6962 inclusion proof.
func VerifyLeaf(head *pb.LogHead, index uint64, leaf []byte, inclusion [][]byte) error {
	return verifyInclusion("leaf", "log", head, index, leaf, inclusion)
}

// verifyInclusion checks that data is entry index of the log at head.
func verifyInclusion(what, log string, head *pb.LogHead, index uint64, data []byte, inclusion [][]byte) error {
	lh := rfc6962.DefaultHasher.HashLeaf(data)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, head.TreeSize, lh, inclusion, head.Root); err != nil {
		return fmt.Errorf("%w: %s %d of the %s of %d: %s", ErrNotInLog, what, index, log, head.TreeSize, proofProblem(err))
	}
	return nil
}

// proofProblem says why a proof failed, without the byte dumps of
// transparency-dev/merkle's RootMismatchError.
func proofProblem(err error) string {
	var rm proof.RootMismatchError
	if errors.As(err, &rm) {
		return fmt.Sprintf("its proof leads to root %x…, not the log's %x…", rm.CalculatedRoot[:min(8, len(rm.CalculatedRoot))], rm.ExpectedRoot[:min(8, len(rm.ExpectedRoot))])
	}
	return err.Error()
}

// VerifyEvent checks that e is event index of the access log whose head
// is head.
func VerifyEvent(head *pb.LogHead, index uint64, e *pb.AccessEvent, inclusion [][]byte) error {
	bz, err := e.Marshal()
	if err != nil {
		return err
	}
	return verifyInclusion("event", "access log", head, index, bz, inclusion)
}

// VerifyExtends checks that the log at head newer extends the log at head
// older (append-only: no leaf of older changed or went), by an RFC 6962
// consistency proof.
func VerifyExtends(older, newer *pb.LogHead, consistency [][]byte) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.TreeSize, newer.TreeSize, consistency, older.Root, newer.Root); err != nil {
		return fmt.Errorf("%w: the log of %d does not extend the log of %d it is said to: %s", ErrNotInLog, newer.TreeSize, older.TreeSize, proofProblem(err))
	}
	return nil
}
