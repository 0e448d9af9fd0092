package training

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/fedledger/fedledger/chain/module"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// keyParams holds the module's protocol.Params as JSON (encoding/json
// writes struct fields in their declared order: deterministic).
const keyParams = protocol.ParamsKey

// Genesis is the module's section of the genesis app_state:
//
//	"training": {"params": {"max_params": 2000000, ...}}
//
// A missing section or field takes protocol.DefaultParams.
type Genesis struct {
	Params protocol.Params `json:"params"`
}

// InitGenesis stores the params, defaults filled in and validated.
func (Module) InitGenesis(ctx *module.Context, section json.RawMessage) error {
	var g Genesis
	if len(section) > 0 && string(section) != "null" {
		dec := json.NewDecoder(bytes.NewReader(section))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return fmt.Errorf("%w: training: %v", protocol.ErrInvalidMsg, err)
		}
	}
	p := g.Params.WithDefaults()
	if err := p.Validate(); err != nil {
		return err
	}
	return exec{ctx}.setParams(p)
}

func (c exec) setParams(p protocol.Params) error {
	bz, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%w: params: %v", protocol.ErrInternal, err)
	}
	c.State.Set(keyParams, bz)
	return nil
}

// params reads the caps in force.
func (c exec) params() (protocol.Params, error) { return readParams(c.State) }

// MaxQueryBytes is the max_query_bytes in force (module.QueryLimiter).
// Before the genesis state is committed there are no params yet: the
// default holds.
func (Module) MaxQueryBytes(r module.Reader) (uint64, error) {
	if bz, err := r.Get(keyParams); err == nil && bz == nil {
		return protocol.DefaultParams().MaxQueryBytes, nil
	}
	p, err := readParams(r)
	return p.MaxQueryBytes, err
}

func readParams(r module.Reader) (protocol.Params, error) {
	bz, err := r.Get(keyParams)
	if err != nil {
		return protocol.Params{}, fmt.Errorf("%w: read params: %v", protocol.ErrInternal, err)
	}
	if bz == nil {
		return protocol.Params{}, fmt.Errorf("%w: params missing from state", protocol.ErrInternal)
	}
	var p protocol.Params
	if err := json.Unmarshal(bz, &p); err != nil {
		return protocol.Params{}, fmt.Errorf("%w: decode params: %v", protocol.ErrInternal, err)
	}
	return p, nil
}

// updateParams replaces the caps (admins only). A zero field keeps its
// default; the caps take effect for the transactions after this one.
func (c exec) updateParams(signer *pb.Participant, m *pb.UpdateParams) error {
	if err := module.RequireRole(signer, pb.ROLE_ADMIN, "change the chain's parameters"); err != nil {
		return err
	}
	p := protocol.Params{
		MaxParams: m.MaxParams, MaxHospitals: m.MaxHospitals, MaxTaskValues: m.MaxTaskValues, MaxRounds: m.MaxRounds,
		MaxWindow: m.MaxWindow, MaxChunks: m.MaxChunks, MaxQueryBytes: m.MaxQueryBytes,
	}.WithDefaults()
	if err := p.Validate(); err != nil {
		return err
	}
	if err := c.setParams(p); err != nil {
		return err
	}
	c.Emit("params_updated", "by", signer.Name)
	return nil
}
