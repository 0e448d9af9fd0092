package chain

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
)

// Query paths. Answers are protobuf-encoded state records of the last
// committed height; with Prove set, ProofOps prove the record against the
// app hash of that height (found in the header of the next block).
//
//	/task/{id}                 Task
//	/round/{task}/{round}      Round
//	/model/{task}              GlobalModel, the task's current one
//	/model/{task}/{round}      GlobalModel after that round (0: initial)
//	/participant/{hex pubkey}  Participant
const (
	PathTask        = "/task"
	PathRound       = "/round"
	PathModel       = "/model"
	PathParticipant = "/participant"
)

// Query answers from the last committed state.
func (a *App) Query(_ context.Context, req *abci.QueryRequest) (*abci.QueryResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}
	resp := &abci.QueryResponse{Height: a.store.height, Codespace: Codespace}
	if req.Height != 0 && req.Height != a.store.height {
		return fail(resp, fmt.Errorf("%w: only the latest height %d can be queried, not %d", errQueryBadRequest, a.store.height, req.Height)), nil
	}
	key, err := a.queryKey(req.Path)
	if err != nil {
		return fail(resp, err), nil
	}
	value, err := a.store.get(key)
	if err != nil {
		return fail(resp, fmt.Errorf("%w: %v", ErrInternal, err)), nil
	}
	if value == nil {
		return fail(resp, fmt.Errorf("%w: nothing at %s", errQueryNotFound, req.Path)), nil
	}
	resp.Key, resp.Value, resp.Codespace = []byte(key), value, ""
	if req.Prove {
		ops, err := a.store.proof(key)
		if err != nil {
			return fail(resp, fmt.Errorf("%w: %v", ErrInternal, err)), nil
		}
		resp.ProofOps = ops
	}
	return resp, nil
}

func fail(resp *abci.QueryResponse, err error) *abci.QueryResponse {
	resp.Code = CodeOf(err)
	resp.Log = err.Error()
	return resp
}

// queryKey maps a query path to a state key.
func (a *App) queryKey(path string) (string, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	num := func(s string, bits int) (uint64, error) {
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%w: %q in %s is not a number", errQueryBadRequest, s, path)
		}
		return v, nil
	}
	switch {
	case parts[0] == "task" && len(parts) == 2:
		id, err := num(parts[1], 64)
		return taskKey(id), err
	case parts[0] == "round" && len(parts) == 3:
		id, err := num(parts[1], 64)
		if err != nil {
			return "", err
		}
		r, err := num(parts[2], 32)
		return roundKey(id, uint32(r)), err
	case parts[0] == "model" && len(parts) == 3:
		id, err := num(parts[1], 64)
		if err != nil {
			return "", err
		}
		r, err := num(parts[2], 32)
		return modelKey(id, uint32(r)), err
	case parts[0] == "model" && len(parts) == 2:
		id, err := num(parts[1], 64)
		if err != nil {
			return "", err
		}
		task, err := state{newOverlay(a.store)}.task(id)
		if err != nil {
			return "", err
		}
		if task == nil {
			return "", fmt.Errorf("%w: task %d does not exist", errQueryNotFound, id)
		}
		return modelKey(id, task.ModelRound), nil
	case parts[0] == "participant" && len(parts) == 2:
		pub, err := hex.DecodeString(parts[1])
		if err != nil || len(pub) != 32 {
			return "", fmt.Errorf("%w: %q is not a 32-byte hex public key", errQueryBadRequest, parts[1])
		}
		return participantKey(pub), nil
	}
	return "", fmt.Errorf("%w: %q (known: /task/{id}, /round/{task}/{round}, /model/{task}[/{round}], /participant/{hex key})", errUnknownQuery, path)
}

// VerifyProof checks a query answer's proof against an app hash. Clients
// call it with the app hash of the header at the answer's height + 1.
func VerifyProof(resp *abci.QueryResponse, appHash []byte) error {
	if resp.ProofOps == nil {
		return fmt.Errorf("query answer carries no proof")
	}
	rt := merkle.DefaultProofRuntime()
	kp := merkle.KeyPath{}.AppendKey(resp.Key, merkle.KeyEncodingHex)
	return rt.VerifyValue(resp.ProofOps, appHash, kp.String(), resp.Value)
}
