package records

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/compact"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// State of the module (prefixes it owns):
//
//	l/<hospital>   LogHead of the hospital's record log; side l/: its nodes
//	a/<hospital>   LogHead of its access log; side a/: its nodes
//	x/             side x/<hospital><index u64>: the access log's events
//	g/<id u64>     Grant
//	v/<id u64>     Review (break-glass)
//	k/grant, k/review   the last grant and review ids
const (
	keyGrantSeq  = "k/grant"
	keyReviewSeq = "k/review"
)

func recordLog(h []byte) log { return log{prefix: "l/", hospital: h} }
func accessLog(h []byte) log { return log{prefix: "a/", hospital: h} }

func eventKey(h []byte, index uint64) string {
	return module.SideKey("x/", string(binary.BigEndian.AppendUint64(append([]byte(nil), h...), index)))
}

// exec runs one message against the state.
type exec struct{ *module.Context }

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", protocol.ErrInvalidMsg, fmt.Sprintf(format, a...))
}

// text checks a reason or note: present, UTF-8, not too long.
func text(what, s string) error {
	if s == "" {
		return invalid("%s is empty; say why", what)
	}
	if len(s) > protocol.MaxRecordsText || !utf8.ValidString(s) {
		return invalid("%s must be UTF-8 of at most %d bytes", what, protocol.MaxRecordsText)
	}
	return nil
}

// participant loads a 32-byte key's participant and checks its role.
func (c exec) participant(what string, pub []byte, roles ...pb.Role) (*pb.Participant, error) {
	if len(pub) != 32 {
		return nil, invalid("%s is %d bytes, not a 32-byte public key", what, len(pub))
	}
	p, err := c.State.Participant(pub)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %s %x is not a participant of this chain", protocol.ErrUnknownGrantee, what, pub)
	}
	for _, r := range roles {
		if p.Role == r {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s is a %s", protocol.ErrUnknownGrantee, what, p.Name, protocol.RoleName(p.Role))
}

func (c exec) nextID(key string) (uint64, error) {
	seq, err := c.State.Uint64At(key)
	if err != nil {
		return 0, err
	}
	c.State.SetUint64(key, seq+1)
	return seq + 1, nil
}

func (c exec) anchor(signer *pb.Participant, m *pb.AnchorRecords) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "anchor records"); err != nil {
		return err
	}
	if n := len(m.Leaves); n == 0 || n > protocol.MaxAnchorLeaves {
		return invalid("an anchor holds 1 to %d leaves, not %d", protocol.MaxAnchorLeaves, n)
	}
	for i, l := range m.Leaves {
		if len(l) != 32 {
			return invalid("leaf %d is %d bytes; a leaf is a 32-byte HMAC-SHA256", i, len(l))
		}
	}
	if c.Check {
		// Appending cannot fail once the leaves check, and no later check
		// reads the record log: CheckTx (and every recheck) skips the tree.
		return nil
	}
	hashes := make([][]byte, len(m.Leaves))
	for i, l := range m.Leaves {
		hashes[i] = hasher.HashLeaf(l)
	}
	first, head, err := recordLog(signer.PubKey).appendLeaves(c.State, c.Height, hashes)
	if err != nil {
		return err
	}
	c.Emit("records_anchored", "hospital", hex.EncodeToString(signer.PubKey), "first", module.U64(first),
		"count", module.U64(uint64(len(hashes))), "size", module.U64(head.TreeSize), "root", hex.EncodeToString(head.Root))
	return nil
}

func (c exec) grant(signer *pb.Participant, m *pb.GrantAccess) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "grant access to records"); err != nil {
		return err
	}
	if err := protocol.CheckScope(m.Kind, m.Scope); err != nil {
		return err
	}
	switch m.Purpose {
	case pb.PURPOSE_CARE, pb.PURPOSE_RESEARCH, pb.PURPOSE_AUDIT:
	default:
		return invalid("a grant's purpose is care, research or audit, not %s", protocol.PurposeName(m.Purpose))
	}
	if m.ExpiresHeight <= uint64(c.Height) {
		return invalid("the grant would expire at height %d, not after this block (%d)", m.ExpiresHeight, c.Height)
	}
	if _, err := c.participant("grantee", m.Grantee, pb.ROLE_RESEARCHER, pb.ROLE_HOSPITAL, pb.ROLE_REVIEWER, pb.ROLE_ADMIN); err != nil {
		return err
	}
	id, err := c.nextID(keyGrantSeq)
	if err != nil {
		return err
	}
	g := pb.Grant{Id: id, Grantor: signer.PubKey, Grantee: m.Grantee, Kind: m.Kind, Scope: m.Scope,
		Purpose: m.Purpose, GrantedHeight: uint64(c.Height), ExpiresHeight: m.ExpiresHeight}
	c.State.Save(protocol.GrantKey(id), &g)
	c.Emit("grant", "grant_id", module.U64(id), "grantor", hex.EncodeToString(signer.PubKey), "grantee", hex.EncodeToString(m.Grantee))
	return nil
}

func (c exec) loadGrant(id uint64) (*pb.Grant, error) {
	var g pb.Grant
	ok, err := c.State.Load(protocol.GrantKey(id), &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: grant %d", protocol.ErrNoGrant, id)
	}
	return &g, nil
}

func (c exec) revoke(signer *pb.Participant, m *pb.RevokeGrant) error {
	g, err := c.loadGrant(m.GrantId)
	if err != nil {
		return err
	}
	if string(g.Grantor) != string(signer.PubKey) && signer.Role != pb.ROLE_ADMIN {
		return fmt.Errorf("%w: only grant %d's grantor or an admin may revoke it", protocol.ErrUnauthorized, g.Id)
	}
	if g.RevokedHeight != 0 {
		return fmt.Errorf("%w: grant %d was already revoked at height %d", protocol.ErrGrantInactive, g.Id, g.RevokedHeight)
	}
	g.RevokedHeight = uint64(c.Height)
	c.State.Save(protocol.GrantKey(g.Id), g)
	c.Emit("revoke", "grant_id", module.U64(g.Id), "by", hex.EncodeToString(signer.PubKey))
	return nil
}

func (c exec) breakGlass(signer *pb.Participant, m *pb.BreakGlass) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "break the glass (care roles only)"); err != nil {
		return err
	}
	if len(m.Record) != 32 {
		return invalid("record is %d bytes, not a 32-byte record reference", len(m.Record))
	}
	if err := text("reason", m.Reason); err != nil {
		return err
	}
	if _, err := c.participant("holder", m.Holder, pb.ROLE_HOSPITAL); err != nil {
		return err
	}
	id, err := c.nextID(keyReviewSeq)
	if err != nil {
		return err
	}
	r := pb.Review{Id: id, Requester: signer.PubKey, Holder: m.Holder, Record: m.Record, Reason: m.Reason, OpenedHeight: uint64(c.Height)}
	c.State.Save(protocol.ReviewKey(id), &r)
	c.Emit("break_glass", "review_id", module.U64(id), "requester", hex.EncodeToString(signer.PubKey), "holder", hex.EncodeToString(m.Holder))
	return nil
}

func (c exec) loadReview(id uint64) (*pb.Review, error) {
	var r pb.Review
	ok, err := c.State.Load(protocol.ReviewKey(id), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: review %d", protocol.ErrNoGrant, id)
	}
	return &r, nil
}

func (c exec) closeReview(signer *pb.Participant, m *pb.CloseReview) error {
	if signer.Role != pb.ROLE_ADMIN && signer.Role != pb.ROLE_REVIEWER {
		return fmt.Errorf("%w: %s is a %s; only an admin or a reviewer may close a review", protocol.ErrUnauthorized, signer.Name, protocol.RoleName(signer.Role))
	}
	r, err := c.loadReview(m.ReviewId)
	if err != nil {
		return err
	}
	if err := text("note", m.Note); err != nil {
		return err
	}
	if r.ClosedHeight != 0 {
		return fmt.Errorf("%w: review %d was closed at height %d", protocol.ErrGrantInactive, r.Id, r.ClosedHeight)
	}
	r.ClosedBy, r.Note, r.ClosedHeight = signer.PubKey, m.Note, uint64(c.Height)
	c.State.Save(protocol.ReviewKey(r.Id), r)
	c.Emit("review_closed", "review_id", module.U64(r.Id), "by", hex.EncodeToString(signer.PubKey))
	return nil
}

// logAccess appends the serving hospital's access events, each checked
// against the chain's own state: the agent is a participant, and the
// grant it names was the signer's, to that agent, and in force at the
// event's height (or the break-glass review was opened by that agent for
// that record at the signer).
func (c exec) logAccess(signer *pb.Participant, m *pb.LogAccess) error {
	if err := module.RequireRole(signer, pb.ROLE_HOSPITAL, "log record access"); err != nil {
		return err
	}
	if n := len(m.Events); n == 0 || n > protocol.MaxAccessEvents {
		return invalid("a log holds 1 to %d events, not %d", protocol.MaxAccessEvents, n)
	}
	hashes := make([][]byte, len(m.Events))
	encoded := make([][]byte, len(m.Events))
	for i := range m.Events {
		e := &m.Events[i]
		if err := c.checkEvent(signer, e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		bz, err := e.Marshal()
		if err != nil {
			return fmt.Errorf("%w: %v", protocol.ErrInternal, err)
		}
		encoded[i], hashes[i] = bz, hasher.HashLeaf(bz)
	}
	first, head, err := accessLog(signer.PubKey).appendLeaves(c.State, c.Height, hashes)
	if err != nil {
		return err
	}
	for i, bz := range encoded {
		c.State.Set(eventKey(signer.PubKey, first+uint64(i)), bz)
	}
	c.Emit("access_logged", "hospital", hex.EncodeToString(signer.PubKey), "first", module.U64(first),
		"count", module.U64(uint64(len(encoded))), "size", module.U64(head.TreeSize))
	return nil
}

func (c exec) checkEvent(signer *pb.Participant, e *pb.AccessEvent) error {
	if len(e.Record) != 32 || len(e.Request) != sha256.Size {
		return invalid("record and request are 32 bytes each, not %d and %d", len(e.Record), len(e.Request))
	}
	if e.Height == 0 || e.Height > uint64(c.Height) {
		return invalid("height %d is not a block before this one (%d)", e.Height, c.Height)
	}
	if e.Outcome != pb.OUTCOME_SERVED && e.Outcome != pb.OUTCOME_ERASED {
		return invalid("unknown outcome %d", e.Outcome)
	}
	if _, err := c.participant("agent", e.Agent, pb.ROLE_ADMIN, pb.ROLE_RESEARCHER, pb.ROLE_HOSPITAL, pb.ROLE_REVIEWER); err != nil {
		return err
	}
	switch {
	case e.GrantId != 0 && e.ReviewId == 0:
		g, err := c.loadGrant(e.GrantId)
		if err != nil {
			return err
		}
		if string(g.Grantor) != string(signer.PubKey) {
			return fmt.Errorf("%w: grant %d is another hospital's", protocol.ErrGrantInactive, g.Id)
		}
		return protocol.GrantInForce(g, e.Agent, e.Purpose, e.Height)
	case e.ReviewId != 0 && e.GrantId == 0:
		r, err := c.loadReview(e.ReviewId)
		if err != nil {
			return err
		}
		if string(r.Holder) != string(signer.PubKey) || string(r.Requester) != string(e.Agent) || string(r.Record) != string(e.Record) || e.Purpose != pb.PURPOSE_BREAK_GLASS || e.Height < r.OpenedHeight {
			return fmt.Errorf("%w: review %d is not this agent's break-glass of this record here", protocol.ErrGrantInactive, r.Id)
		}
		return nil
	}
	return invalid("an event names exactly one of a grant and a review")
}

// LeafHash is the RFC 6962 leaf hash at index of hospital's record log,
// or nil if the log is shorter: for other modules that tie their state to
// an anchored record (the training module's data anchors).
func LeafHash(r module.Reader, hospital []byte, index uint64) ([]byte, error) {
	v, ok, err := recordLog(hospital).node(r, compact.NewNodeID(0, index))
	if err != nil || !ok {
		return nil, err
	}
	return v, nil
}

// HashLeaf is the RFC 6962 leaf hash of a record leaf.
func HashLeaf(leaf []byte) []byte { return hasher.HashLeaf(leaf) }

// LoadGrant reads grant id, wrapping ErrNoGrant when there is none.
func LoadGrant(st module.State, id uint64) (*pb.Grant, error) {
	return exec{&module.Context{State: st}}.loadGrant(id)
}
