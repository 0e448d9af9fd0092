package fl

import (
	"context"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"

	"github.com/fedledger/fedledger/protocol"
)

type unmarshaler interface{ Unmarshal([]byte) error }

// Query reads path from the app's committed state into out. With a
// Verifier, a provable answer is checked against its proof and a verified
// header first; a node whose answer fails is named in an ErrLyingNode
// error and, when Dial was given several nodes, the query is asked of the
// next one.
func (c *Client) Query(ctx context.Context, path string, out unmarshaler) (height int64, err error) {
	r, err := c.answer(ctx, path, false)
	if err != nil {
		return r.Height, err
	}
	if err := out.Unmarshal(r.Value); err != nil {
		return r.Height, fmt.Errorf("fl: query %s: decode: %w", path, err)
	}
	return r.Height, nil
}

// answer asks path and checks the answer as Query does; withProof asks
// for the proof even without a Verifier (to keep it, as ExportModel does).
func (c *Client) answer(ctx context.Context, path string, withProof bool) (abci.ResponseQuery, error) {
	q, perr := protocol.ParseQuery(path)
	verify := c.Verifier != nil && perr == nil && protocol.Provable(q)
	tries := 1
	f, multi := c.rpc.(*Failover)
	if multi {
		tries = len(f.nodes)
	}
	var r abci.ResponseQuery
	for try := 0; ; try++ {
		node := c.nodeName()
		res, err := c.rpc.ABCIQueryWithOptions(ctx, path, nil, rpcclient.ABCIQueryOptions{Prove: verify || withProof})
		if err != nil {
			return r, c.unavailable("query %s: %v", path, err)
		}
		r = res.Response
		if r.Code != 0 || !verify {
			break
		}
		err = checkAnswer(ctx, c.Verifier, q, path, &r)
		if err == nil {
			break
		}
		if errors.Is(err, ErrLyingNode) {
			err = fmt.Errorf("node %s: %w", node, err)
			if multi && try+1 < tries {
				f.Skip()
				continue
			}
		}
		return r, err
	}
	if r.Code == protocol.CodeNotFound {
		return r, fmt.Errorf("%w: %s", ErrNotFound, r.Log)
	}
	if r.Code != 0 {
		return r, fmt.Errorf("fl: query %s: code %d: %s", path, r.Code, r.Log)
	}
	return r, nil
}

// nodeName names the node the next call goes to.
func (c *Client) nodeName() string {
	i := 0
	if f, ok := c.rpc.(*Failover); ok {
		i = f.Current()
	}
	if i < len(c.nodes) {
		return c.nodes[i]
	}
	return "(unnamed)"
}

// Task reads a task.
func (c *Client) Task(ctx context.Context, id uint64) (*pb.Task, error) {
	var t pb.Task
	_, err := c.Query(ctx, protocol.TaskPath(id), &t)
	return &t, err
}

// Round reads a round of a task.
func (c *Client) Round(ctx context.Context, task uint64, round uint32) (*pb.Round, error) {
	var r pb.Round
	_, err := c.Query(ctx, protocol.RoundPath(task, round), &r)
	return &r, err
}

// Model reads the global model after a round (0: the initial model) and
// checks that its weights hash to its recorded hash.
func (c *Client) Model(ctx context.Context, task uint64, round uint32) (*pb.GlobalModel, error) {
	var m pb.GlobalModel
	if _, err := c.Query(ctx, protocol.ModelPath(task, round), &m); err != nil {
		return nil, err
	}
	if got := m.Weights.Hash(); string(got) != string(m.Hash) {
		return nil, fmt.Errorf("fl: model of task %d round %d: weights hash to %X, record says %X", task, round, got, m.Hash)
	}
	return &m, nil
}

// Reputation reads a task's reputation scores.
func (c *Client) Reputation(ctx context.Context, task uint64) (*pb.Reputation, error) {
	var r pb.Reputation
	_, err := c.Query(ctx, protocol.ReputationPath(task), &r)
	return &r, err
}

// Participant reads a participant record.
func (c *Client) Participant(ctx context.Context, pub []byte) (*pb.Participant, error) {
	var p pb.Participant
	_, err := c.Query(ctx, protocol.ParticipantPath(pub), &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// WaitRound polls until round of task reaches at least phase (or the task
// moved past it), and returns the round.
func (c *Client) WaitRound(ctx context.Context, task uint64, round uint32, phase pb.Phase) (*pb.Round, error) {
	for {
		rd, err := c.Round(ctx, task, round)
		if err == nil && rd.Phase >= phase {
			return rd, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err := sleep(ctx, c.PollInterval); err != nil {
			return nil, fmt.Errorf("fl: waiting for round %d of task %d: %w", round, task, err)
		}
	}
}

// Tasks lists every task on chain.
func (c *Client) Tasks(ctx context.Context) ([]pb.Task, error) {
	var l pb.TaskList
	_, err := c.Query(ctx, protocol.PathTasks, &l)
	return l.Tasks, err
}

// Participants lists every participant on chain.
func (c *Client) Participants(ctx context.Context) ([]pb.Participant, error) {
	var l pb.ParticipantList
	_, err := c.Query(ctx, protocol.PathParticipants, &l)
	return l.Participants, err
}
