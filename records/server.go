package records

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"golang.org/x/crypto/nacl/box"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// ReadRequest asks a hospital's record server for one record. The agent
// signs it; Recipient is a fresh X25519 key the record is sealed to.
type ReadRequest struct {
	Agent     []byte `json:"agent"`
	Holder    []byte `json:"holder"`
	Record    string `json:"record"`
	Version   uint64 `json:"version,omitempty"`
	Grant     uint64 `json:"grant,omitempty"`
	Review    uint64 `json:"review,omitempty"`
	Purpose   string `json:"purpose"`
	Recipient []byte `json:"recipient"`
	Nonce     []byte `json:"nonce"`
	Signature []byte `json:"signature"`
}

// signBytes is what the agent signs: every field but the signature.
func (r *ReadRequest) signBytes() []byte {
	return mac([]byte("fedledger/read/v1"), r.Agent, r.Holder, []byte(r.Record),
		binary.BigEndian.AppendUint64(nil, r.Version), binary.BigEndian.AppendUint64(nil, r.Grant),
		binary.BigEndian.AppendUint64(nil, r.Review), []byte(r.Purpose), r.Recipient, r.Nonce)
}

// Hash identifies the request (replays have the same).
func (r *ReadRequest) Hash() []byte { s := sha256.Sum256(r.signBytes()); return s[:] }

// Sign signs the request as key.
func (r *ReadRequest) Sign(key ed25519.PrivateKey) {
	r.Agent = key.Public().(ed25519.PublicKey)
	r.Signature = ed25519.Sign(key, r.signBytes())
}

// Delivered is what a served read carries, sealed to the recipient: the
// record and what the reader needs to check it against the chain.
type Delivered struct {
	Holder  []byte `json:"holder"`
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	JSON    bool   `json:"json"`
	Content []byte `json:"content"`
	LeafKey []byte `json:"leaf_key"`
	Index   uint64 `json:"index"`
	// Height is the state the grant was checked in.
	Height int64 `json:"height"`
}

// Leaf is the delivered record's leaf, computed from its content.
func (d *Delivered) Leaf() []byte { return Leaf(d.LeafKey, d.ID, d.Version, d.Content) }

// Refusal codes: one per reason a read is refused. Nothing is written for
// a refused read.
const (
	RefusedMalformed   = "malformed_request"
	RefusedSignature   = "bad_signature"
	RefusedWrongHolder = "wrong_holder"
	RefusedReplay      = "replayed_request"
	RefusedUnknown     = "unknown_record"
	RefusedNoGrant     = "no_grant"
	RefusedForeign     = "foreign_grant"
	RefusedInactive    = "grant_not_in_force"
	RefusedScope       = "out_of_scope"
	RefusedNotAnchored = "not_anchored"
	RefusedErased      = "erased"
	RefusedChain       = "chain_unavailable"
)

// Refusal is a refused read, as the server answers it.
type Refusal struct {
	Status int    `json:"-"`
	Code   string `json:"code"`
	Reason string `json:"error"`
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Reason }

func refuse(status int, code, format string, a ...any) *Refusal {
	return &Refusal{Status: status, Code: code, Reason: fmt.Sprintf(format, a...)}
}

// Stats count what a server did.
type Stats struct {
	Served  uint64            `json:"served"`
	Refused map[string]uint64 `json:"refused"`
	Logged  uint64            `json:"logged"`  // access events on chain
	Pending uint64            `json:"pending"` // access events waiting to be logged
}

// Server serves a hospital's records to grantees (an http.Handler at
// /v1/read and /v1/stats). Chain reads go through chain, whose key must be
// the store's holder's (it signs the access log).
type Server struct {
	store *Store
	chain *fl.Client

	mu     sync.Mutex // guards stats and the order of queued events
	stats  Stats
	logMu  sync.Mutex // one FlushAccess at a time
	queued uint64

	cacheMu sync.Mutex // guards grants
	grants  map[grantAt]*grantCall
}

// grantAt is a grant in the state of a height.
type grantAt struct {
	id     uint64
	height int64
}

// grantCall is one proved read of a grant, shared by every read that
// asks for the grant while the chain's state is at the same height: the
// answer is as fresh as each of them asking alone would get (the state
// of that height or a later one), so a revocation takes effect for reads
// from the revoking block on, as without sharing.
type grantCall struct {
	done   chan struct{}
	grant  pb.Grant
	height int64
	err    error
}

// NewServer returns a server of store's records. It marks chain's key as
// shared (fl.Client.SharedKey): the hospital's operators sign grants and
// anchors with it while the server logs reads.
func NewServer(store *Store, chain *fl.Client) (*Server, error) {
	if string(chain.PubKey()) != string(store.holder) {
		return nil, fmt.Errorf("records: the server's chain key %x is not the store's holder %x", chain.PubKey(), store.holder)
	}
	chain.SharedKey = true
	s := &Server{store: store, chain: chain, stats: Stats{Refused: map[string]uint64{}}, grants: map[grantAt]*grantCall{}}
	n, err := s.pendingEvents()
	s.stats.Pending = uint64(len(n))
	return s, err
}

// ServeHTTP answers POST /v1/read and GET /v1/stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v1/read" && r.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			s.answer(w, refuse(http.StatusBadRequest, RefusedMalformed, "reading the body: %v", err))
			return
		}
		sealed, ref := s.Read(r.Context(), body)
		if ref != nil {
			s.answer(w, ref)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(sealed)
	case r.URL.Path == "/v1/stats":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Stats())
	default:
		http.Error(w, "fedledger record server: POST /v1/read or GET /v1/stats", http.StatusNotFound)
	}
}

func (s *Server) answer(w http.ResponseWriter, r *Refusal) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	json.NewEncoder(w).Encode(r)
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Refused = map[string]uint64{}
	for k, v := range s.stats.Refused {
		out.Refused[k] = v
	}
	return out
}

// Read serves one encoded ReadRequest: it checks the request, the grant
// or review on chain (proved), seals the record to the recipient, queues
// the access event durably, and returns the sealed bytes. A refusal
// writes nothing and is counted by code.
func (s *Server) Read(ctx context.Context, body []byte) ([]byte, *Refusal) {
	sealed, ref := s.read(ctx, body)
	s.mu.Lock()
	if ref != nil {
		s.stats.Refused[ref.Code]++
	} else {
		s.stats.Served++
		s.stats.Pending++
	}
	s.mu.Unlock()
	return sealed, ref
}

func (s *Server) read(ctx context.Context, body []byte) ([]byte, *Refusal) {
	req, purpose, ref := ParseRequest(body, s.store.holder)
	if ref != nil {
		return nil, ref
	}
	e, content, leafKey, err := s.store.Content(req.Record, req.Version)
	outcome := pb.OUTCOME_SERVED
	switch {
	case errors.Is(err, ErrUnknownRecord):
		return nil, refuse(http.StatusNotFound, RefusedUnknown, "no record %q here", req.Record)
	case errors.Is(err, ErrErased):
		outcome = pb.OUTCOME_ERASED
	case err != nil:
		return nil, refuse(http.StatusInternalServerError, RefusedChain, "%v", err)
	}
	if !e.Anchored {
		return nil, refuse(http.StatusConflict, RefusedNotAnchored, "record %q version %d is not anchored yet; ask again after the next block", e.ID, e.Version)
	}
	height, ref := s.authorize(ctx, req, purpose, e)
	if ref != nil {
		return nil, ref
	}
	// From here the read is served: mark the request (replays refused),
	// queue its access event, then answer.
	fresh, err := s.store.markRequest(req.Hash())
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, RefusedChain, "%v", err)
	}
	if !fresh {
		return nil, refuse(http.StatusConflict, RefusedReplay, "this request was served before; sign a new one with a fresh nonce")
	}
	ev := pb.AccessEvent{Agent: req.Agent, Record: e.Ref, Height: uint64(height), Purpose: purpose,
		Outcome: outcome, GrantId: req.Grant, ReviewId: req.Review, Request: req.Hash()}
	if err := s.queue(&ev); err != nil {
		return nil, refuse(http.StatusInternalServerError, RefusedChain, "%v", err)
	}
	if outcome == pb.OUTCOME_ERASED {
		return nil, refuse(http.StatusGone, RefusedErased, "record %q was erased; its leaf stays in the log, its content is gone", e.ID)
	}
	d := Delivered{Holder: s.store.holder, ID: e.ID, Version: e.Version, JSON: e.JSON, Content: content, LeafKey: leafKey, Index: e.Index, Height: height}
	plain, _ := json.Marshal(d)
	var to [32]byte
	copy(to[:], req.Recipient)
	sealed, err := box.SealAnonymous(nil, plain, &to, rand.Reader)
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, RefusedChain, "%v", err)
	}
	return sealed, nil
}

// ParseRequest decodes and checks a read request for holder's server:
// its shape, its signature, that it is for holder, and its purpose. It
// reads nothing else.
func ParseRequest(body []byte, holder []byte) (*ReadRequest, pb.Purpose, *Refusal) {
	var req ReadRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, 0, refuse(http.StatusBadRequest, RefusedMalformed, "the request is not a read request: %v", err)
	}
	if dec.More() {
		return nil, 0, refuse(http.StatusBadRequest, RefusedMalformed, "more than one request in the body")
	}
	if len(req.Agent) != ed25519.PublicKeySize || len(req.Recipient) != 32 || len(req.Nonce) < 16 || len(req.Nonce) > 64 || req.Record == "" || len(req.Record) > 256 || (req.Grant == 0) == (req.Review == 0) {
		return nil, 0, refuse(http.StatusBadRequest, RefusedMalformed, "a read request needs a 32-byte agent key and recipient key, a 16- to 64-byte nonce, a record id of 1 to 256 bytes, and exactly one of a grant and a review")
	}
	if !ed25519.Verify(req.Agent, req.signBytes(), req.Signature) {
		return nil, 0, refuse(http.StatusUnauthorized, RefusedSignature, "the signature does not verify with the agent's key")
	}
	if !bytes.Equal(req.Holder, holder) {
		return nil, 0, refuse(http.StatusBadRequest, RefusedWrongHolder, "the request is for hospital %x, and this server is %x's", req.Holder, holder)
	}
	if req.Grant != 0 {
		p, err := protocol.ParsePurpose(req.Purpose)
		if err != nil {
			return nil, 0, refuse(http.StatusBadRequest, RefusedMalformed, "%v", err)
		}
		return &req, p, nil
	}
	if req.Purpose != protocol.PurposeName(pb.PURPOSE_BREAK_GLASS) {
		return nil, 0, refuse(http.StatusBadRequest, RefusedMalformed, "a read under a review is a break-glass read, not %q", req.Purpose)
	}
	return &req, pb.PURPOSE_BREAK_GLASS, nil
}

// authorize checks the grant or review the request names, on chain.
func (s *Server) authorize(ctx context.Context, req *ReadRequest, purpose pb.Purpose, e *Entry) (int64, *Refusal) {
	chainErr := func(what string, err error) *Refusal {
		if errors.Is(err, fl.ErrNotFound) {
			return refuse(http.StatusForbidden, RefusedNoGrant, "there is no %s on chain", what)
		}
		return refuse(http.StatusServiceUnavailable, RefusedChain, "reading %s from the chain: %v", what, err)
	}
	if req.Grant != 0 {
		g, h, err := s.grant(ctx, req.Grant)
		if err != nil {
			return 0, chainErr(fmt.Sprintf("grant %d", req.Grant), err)
		}
		if !bytes.Equal(g.Grantor, s.store.holder) {
			return 0, refuse(http.StatusForbidden, RefusedForeign, "grant %d is another hospital's (%x)", g.Id, g.Grantor)
		}
		if err := protocol.GrantInForce(g, req.Agent, purpose, uint64(h)); err != nil {
			return 0, refuse(http.StatusForbidden, RefusedInactive, "%v", err)
		}
		var in bool
		switch g.Kind {
		case pb.SCOPE_RECORD:
			in = bytes.Equal(g.Scope, e.Ref)
		case pb.SCOPE_PATIENT:
			in = len(e.Patient) > 0 && bytes.Equal(g.Scope, e.Patient)
		case pb.SCOPE_DATASET:
			in = e.Dataset != "" && string(g.Scope) == e.Dataset
		}
		if !in {
			return 0, refuse(http.StatusForbidden, RefusedScope, "grant %d covers a %s scope that does not hold record %q", g.Id, protocol.ScopeName(g.Kind), e.ID)
		}
		return h, nil
	}
	var r pb.Review
	h, err := s.chain.Query(ctx, protocol.ReviewPath(req.Review), &r)
	if err != nil {
		return 0, chainErr(fmt.Sprintf("break-glass review %d", req.Review), err)
	}
	if !bytes.Equal(r.Holder, s.store.holder) || !bytes.Equal(r.Requester, req.Agent) || !bytes.Equal(r.Record, e.Ref) {
		return 0, refuse(http.StatusForbidden, RefusedForeign, "break-glass review %d is not this agent's declaration for this record here", r.Id)
	}
	return h, nil
}

// grant reads a grant proved in the chain's latest state (or a later
// one), sharing the read with the others asking at the same state height.
func (s *Server) grant(ctx context.Context, id uint64) (*pb.Grant, int64, error) {
	now, err := s.chain.StateHeight(ctx)
	if err != nil {
		return nil, 0, err
	}
	key := grantAt{id, now}
	s.cacheMu.Lock()
	call, shared := s.grants[key]
	if !shared {
		call = &grantCall{done: make(chan struct{})}
		s.grants[key] = call
	}
	s.cacheMu.Unlock()
	if !shared {
		call.height, call.err = s.chain.Query(ctx, protocol.GrantPath(id), &call.grant)
		close(call.done)
		s.cacheMu.Lock()
		for k := range s.grants { // drop the calls of older states
			if k.height < now {
				delete(s.grants, k)
			}
		}
		s.cacheMu.Unlock()
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	if call.err != nil {
		return nil, 0, call.err
	}
	g := call.grant
	return &g, call.height, nil
}

// queue stores an access event until FlushAccess logs it on chain.
func (s *Server) queue(ev *pb.AccessEvent) error {
	bz, err := ev.Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued++
	k := binary.BigEndian.AppendUint64([]byte("e/"), uint64(time.Now().UnixNano()))
	k = binary.BigEndian.AppendUint64(k, s.queued)
	return s.store.db.Set(k, bz, pebble.Sync)
}

type queuedEvent struct {
	key []byte
	ev  pb.AccessEvent
}

func (s *Server) pendingEvents() ([]queuedEvent, error) {
	it, err := s.store.db.NewIter(&pebble.IterOptions{LowerBound: []byte("e/"), UpperBound: []byte("e0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []queuedEvent
	for it.First(); it.Valid(); it.Next() {
		var q queuedEvent
		if err := q.ev.Unmarshal(it.Value()); err != nil {
			return nil, fmt.Errorf("records: queued access event: %w", err)
		}
		q.key = bytes.Clone(it.Key())
		out = append(out, q)
	}
	return out, it.Error()
}

// FlushAccess logs every queued access event on chain (LogAccess, in
// batches) and drops it from the queue once its block holds it.
func (s *Server) FlushAccess(ctx context.Context) (int, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	q, err := s.pendingEvents()
	if err != nil {
		return 0, err
	}
	done := 0
	for len(q) > 0 {
		n := min(len(q), protocol.MaxAccessEvents)
		msg := &pb.LogAccess{}
		for _, e := range q[:n] {
			msg.Events = append(msg.Events, e.ev)
		}
		if _, err := s.chain.Submit(ctx, &pb.Msg{Sum: &pb.Msg_LogAccess{LogAccess: msg}}); err != nil {
			return done, fmt.Errorf("records: log %d access events: %w", n, err)
		}
		b := s.store.db.NewBatch()
		for _, e := range q[:n] {
			_ = b.Delete(e.key, nil)
		}
		err := b.Commit(pebble.Sync)
		b.Close()
		if err != nil {
			return done, err
		}
		s.mu.Lock()
		s.stats.Logged += uint64(n)
		s.stats.Pending -= min(s.stats.Pending, uint64(n))
		s.mu.Unlock()
		q, done = q[n:], done+n
	}
	return done, nil
}

// Run logs queued access events every interval until ctx ends, then once
// more. Errors are reported to onErr and retried at the next tick.
func (s *Server) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := s.FlushAccess(fctx); err != nil && onErr != nil {
				onErr(err)
			}
			cancel()
			return
		case <-t.C:
			if _, err := s.FlushAccess(ctx); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
