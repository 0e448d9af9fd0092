package chain

import (
	"context"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Query answers from the last committed state. The paths are protocol's
// (protocol.ParseQuery); the app answers /participant and /participants,
// and every other path goes to the module that registered it. An answer
// read from a state key carries, with Prove set, ProofOps against the app
// hash of its height (found in the header of the next block).
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	a.stateMu.RLock()
	defer a.stateMu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	resp := &abci.ResponseQuery{Height: a.store.height, Codespace: protocol.Codespace}
	if req.Height != 0 && req.Height != a.store.height {
		return fail(resp, fmt.Errorf("%w: only the latest height %d can be queried, not %d", protocol.ErrBadQuery, a.store.height, req.Height)), nil
	}
	key, value, err := a.route(req.Path)
	if err != nil {
		return fail(resp, err), nil
	}
	if key != "" {
		if value, err = a.store.Get(key); err != nil {
			return fail(resp, fmt.Errorf("%w: %v", protocol.ErrInternal, err)), nil
		}
		if value == nil {
			return fail(resp, fmt.Errorf("%w: nothing at %s", protocol.ErrNotFound, req.Path)), nil
		}
	}
	if err := a.checkAnswerSize(req.Path, len(value)); err != nil {
		return fail(resp, err), nil
	}
	if key == "" { // a list: no proof
		if req.Prove {
			return fail(resp, fmt.Errorf("%w: %s is a list and has no proof; query each item with prove", protocol.ErrBadQuery, req.Path)), nil
		}
		resp.Value, resp.Codespace = value, ""
		return resp, nil
	}
	resp.Key, resp.Value, resp.Codespace = []byte(key), value, ""
	if req.Prove {
		ops, err := a.store.proof(key)
		if err != nil {
			return fail(resp, fmt.Errorf("%w: %v", protocol.ErrInternal, err)), nil
		}
		resp.ProofOps = ops
	}
	return resp, nil
}

// route maps a query path to the state key that answers it, or to a value.
func (a *App) route(path string) (string, []byte, error) {
	q, err := protocol.ParseQuery(path)
	if err != nil {
		return "", nil, err
	}
	switch q.Path {
	case protocol.PathParticipant:
		return module.ParticipantKey(q.PubKey), nil, nil
	case protocol.PathParticipants:
		var l pb.ParticipantList
		st := module.State{Store: newOverlay(a.store)}
		for _, k := range a.store.KeysWithPrefix("p/") {
			var p pb.Participant
			if _, err := st.Load(k, &p); err != nil {
				return "", nil, err
			}
			l.Participants = append(l.Participants, p)
		}
		bz, err := l.Marshal()
		return "", bz, err
	}
	m, ok := a.router.byPath[q.Path]
	if !ok {
		return "", nil, fmt.Errorf("%w: no module answers %s", protocol.ErrUnknownQuery, path)
	}
	return m.Query(a.store, q)
}

// checkAnswerSize refuses an answer larger than any module's cap on query
// answers (module.QueryLimiter), read from committed state.
func (a *App) checkAnswerSize(path string, n int) error {
	for _, m := range a.router.modules {
		l, ok := m.(module.QueryLimiter)
		if !ok {
			continue
		}
		limit, err := l.MaxQueryBytes(a.store)
		if err != nil {
			return err
		}
		if uint64(n) > limit {
			return fmt.Errorf("%w: the answer to %s has %d bytes; this chain's max_query_bytes is %d (query the items one by one)", protocol.ErrOverLimit, path, n, limit)
		}
	}
	return nil
}

func fail(resp *abci.ResponseQuery, err error) *abci.ResponseQuery {
	resp.Code = protocol.CodeOf(err)
	resp.Log = err.Error()
	return resp
}

// VerifyProof checks a query answer's proof against an app hash. Clients
// call it with the app hash of the header at the answer's height + 1.
func VerifyProof(resp *abci.ResponseQuery, appHash []byte) error {
	if resp.ProofOps == nil {
		return fmt.Errorf("query answer carries no proof")
	}
	rt := merkle.DefaultProofRuntime()
	kp := merkle.KeyPath{}.AppendKey(resp.Key, merkle.KeyEncodingHex)
	return rt.VerifyValue(resp.ProofOps, appHash, kp.String(), resp.Value)
}
