package chain

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
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
//	/reputation/{task}         Reputation: every invited hospital's score
//	/tasks                     TaskList, every task (no proof: query each task for one)
//	/participants              ParticipantList, every participant (no proof)
const (
	PathTask        = "/task"
	PathRound       = "/round"
	PathModel       = "/model"
	PathParticipant = "/participant"
)

// Query answers from the last committed state.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	a.stateMu.RLock()
	defer a.stateMu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	resp := &abci.ResponseQuery{Height: a.store.height, Codespace: Codespace}
	if req.Height != 0 && req.Height != a.store.height {
		return fail(resp, fmt.Errorf("%w: only the latest height %d can be queried, not %d", errQueryBadRequest, a.store.height, req.Height)), nil
	}
	if req.Path == "/tasks" || req.Path == "/participants" {
		return a.queryList(req, resp), nil
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

func fail(resp *abci.ResponseQuery, err error) *abci.ResponseQuery {
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
	case parts[0] == "reputation" && len(parts) == 2:
		id, err := num(parts[1], 64)
		return reputationKey(id), err
	case parts[0] == "participant" && len(parts) == 2:
		pub, err := hex.DecodeString(parts[1])
		if err != nil || len(pub) != 32 {
			return "", fmt.Errorf("%w: %q is not a 32-byte hex public key", errQueryBadRequest, parts[1])
		}
		return participantKey(pub), nil
	}
	return "", fmt.Errorf("%w: %q (known: /task/{id}, /tasks, /round/{task}/{round}, /model/{task}[/{round}], /participant/{hex key}, /participants)", errUnknownQuery, path)
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

// queryList answers /tasks and /participants from committed state.
func (a *App) queryList(req *abci.RequestQuery, resp *abci.ResponseQuery) *abci.ResponseQuery {
	if req.Prove {
		return fail(resp, fmt.Errorf("%w: %s is a list and has no proof; query each item with prove", errQueryBadRequest, req.Path))
	}
	var out interface{ Marshal() ([]byte, error) }
	var err error
	if req.Path == "/tasks" {
		var l pb.TaskList
		for _, k := range a.store.keysWithPrefix("t/") {
			var t pb.Task
			if err = a.loadCommitted(k, &t); err != nil {
				break
			}
			l.Tasks = append(l.Tasks, t)
		}
		out = &l
	} else {
		var l pb.ParticipantList
		for _, k := range a.store.keysWithPrefix("p/") {
			var p pb.Participant
			if err = a.loadCommitted(k, &p); err != nil {
				break
			}
			l.Participants = append(l.Participants, p)
		}
		out = &l
	}
	if err != nil {
		return fail(resp, err)
	}
	bz, err := out.Marshal()
	if err != nil {
		return fail(resp, fmt.Errorf("%w: %v", ErrInternal, err))
	}
	resp.Value, resp.Codespace = bz, ""
	return resp
}

func (a *App) loadCommitted(key string, into interface{ Unmarshal([]byte) error }) error {
	bz, err := a.store.get(key)
	if err != nil || bz == nil {
		return fmt.Errorf("%w: read %q: %v", ErrInternal, key, err)
	}
	if err := into.Unmarshal(bz); err != nil {
		return fmt.Errorf("%w: decode %q: %v", ErrInternal, key, err)
	}
	return nil
}
