package fl

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// ModelFormat names the model file format (docs/model-file.md).
const ModelFormat = "fedledger-model/v1"

// ModelFile is a trained model taken out of the chain: the global model
// record exactly as committed, its Merkle proof against the app hash of
// its height, and the fields a reader needs without decoding it.
type ModelFile struct {
	Format  string `json:"format"`
	ChainID string `json:"chain_id"`
	Task    uint64 `json:"task"`
	Round   uint32 `json:"round"`
	// Spec is the task's model and scale: what Params are the weights of.
	Model    pb.ModelSpec `json:"model"`
	FracBits uint32       `json:"frac_bits"`
	// Params are the weights as floats (FracBits fixed point, decoded).
	Params []float64 `json:"params"`
	// ModelHash is the chain's hash of the fixed-point weights.
	ModelHash string `json:"model_hash"`
	// Preprocessing says how inputs are to be scaled; Schema, for a task
	// that declared one, how a table's columns become the inputs.
	Preprocessing string         `json:"preprocessing"`
	Schema        *pb.DataSchema `json:"schema,omitempty"`
	// Record is the GlobalModel state record (protobuf); Proof proves it
	// at Key against AppHash, the app hash of the state after Height.
	Record   []byte              `json:"record"`
	Key      string              `json:"key"`
	Height   int64               `json:"height"`
	AppHash  string              `json:"app_hash"`
	Proof    *cmtcrypto.ProofOps `json:"proof"`
	Verified bool                `json:"verified_by_light_client"`
}

// PreprocessingLocal is the scaling every fedledger trainer applies: each
// hospital z-scores every input with its own training rows' mean and sd.
const PreprocessingLocal = "z-score each input with the scoring hospital's own training mean and sd (as its trainer did)"

// ExportModel reads a task's global model after round (0: the task's
// current one) with its proof. With a Verifier the app hash is the one
// the light client verified, and Verified is set.
func ExportModel(ctx context.Context, c *Client, task uint64, round uint32) (*ModelFile, error) {
	t, err := c.Task(ctx, task)
	if err != nil {
		return nil, err
	}
	if round == 0 {
		round = t.ModelRound
	}
	path := protocol.ModelPath(task, round)
	r, err := c.answer(ctx, path, true) // checked against the Verifier, if any
	if err != nil {
		return nil, err
	}
	q, _ := protocol.ParseQuery(path)
	f := &ModelFile{Format: ModelFormat, ChainID: c.ChainID(), Task: task, Round: round, Model: t.Spec.Model, FracBits: t.Spec.FracBits,
		Preprocessing: PreprocessingLocal, Schema: t.Spec.Schema, Record: r.Value, Key: string(r.Key), Height: r.Height, Proof: r.ProofOps}
	if c.Verifier != nil {
		app, err := c.Verifier.AppHash(ctx, r.Height)
		if err != nil {
			return nil, err
		}
		f.AppHash, f.Verified = hex.EncodeToString(app), true
	} else if !protocol.AnswerKeyMatches(q, r.Key) {
		return nil, fmt.Errorf("%w: it answered %s with the record at %q", ErrLyingNode, path, r.Key)
	}
	if err := f.fill(); err != nil {
		return nil, err
	}
	return f, nil
}

// fill decodes the record into the reader's fields and checks its hash.
func (f *ModelFile) fill() error {
	var m pb.GlobalModel
	if err := m.Unmarshal(f.Record); err != nil {
		return fmt.Errorf("fl: model record: %w", err)
	}
	if got := m.Weights.Hash(); !bytes.Equal(got, m.Hash) {
		return fmt.Errorf("fl: model record: weights hash to %x, the record says %x", got, m.Hash)
	}
	params, err := ModelParams(&m)
	if err != nil {
		return err
	}
	n, err := f.Model.NumParams()
	if err != nil {
		return err
	}
	if len(params) != n {
		return fmt.Errorf("fl: model record holds %d weights for a model of %d", len(params), n)
	}
	f.Params, f.ModelHash = params, hex.EncodeToString(m.Hash)
	return nil
}

// WriteModelFile writes f as indented JSON.
func WriteModelFile(path string, f *ModelFile) error {
	bz, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(bz, '\n'), 0o644)
}

// ErrBadModelFile is the error of a model file that does not check.
var ErrBadModelFile = errors.New("fl: model file does not check")

// ReadModelFile reads a model file and checks it: the weights are the
// record's, the record hashes to its model hash, and, when the file
// carries an app hash, the proof ties the record to it.
func ReadModelFile(path string) (*ModelFile, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ModelFile
	if err := json.Unmarshal(bz, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not a model file: %v", ErrBadModelFile, path, err)
	}
	if f.Format != ModelFormat {
		return nil, fmt.Errorf("%w: %s has format %q, want %q", ErrBadModelFile, path, f.Format, ModelFormat)
	}
	claimed := f.Params
	if err := f.fill(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadModelFile, path, err)
	}
	for i := range claimed {
		if i >= len(f.Params) || claimed[i] != f.Params[i] {
			return nil, fmt.Errorf("%w: %s: params differ from the proved record at %d", ErrBadModelFile, path, i)
		}
	}
	if f.AppHash != "" {
		app, err := hex.DecodeString(f.AppHash)
		if err != nil || f.Proof == nil {
			return nil, fmt.Errorf("%w: %s: an app hash without a proof", ErrBadModelFile, path)
		}
		kp := merkle.KeyPath{}.AppendKey([]byte(f.Key), merkle.KeyEncodingHex)
		if err := merkle.DefaultProofRuntime().VerifyValue(f.Proof, app, kp.String(), f.Record); err != nil {
			return nil, fmt.Errorf("%w: %s: the record's proof does not lead to app hash %s: %v", ErrBadModelFile, path, f.AppHash, err)
		}
	}
	return &f, nil
}
