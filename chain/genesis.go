package chain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// GenesisState is the app_state of a fedledger genesis file:
//
//	{"participants": [
//	  {"name": "admin", "pub_key": "<base64 ed25519 key>", "role": "admin"},
//	  {"name": "cleveland", "pub_key": "...", "role": "hospital"}],
//	 "<module name>": {...}}
//
// The participants are the app's own section; every other top-level key
// is the section of the module of that name (see Modules), which a module
// stores in its InitGenesis. A module without a section starts empty.
type GenesisState struct {
	Participants []GenesisParticipant `json:"participants"`
	// Modules holds the modules' sections by module name.
	Modules map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes the participants and every module's section.
func (g GenesisState) MarshalJSON() ([]byte, error) {
	out := map[string]any{"participants": g.Participants}
	for name, sec := range g.Modules {
		out[name] = sec
	}
	return json.Marshal(out) // map keys are written sorted
}

// GenesisParticipant is one key and its role at genesis.
type GenesisParticipant struct {
	Name   string `json:"name"`
	PubKey []byte `json:"pub_key"` // 32-byte ed25519 public key, base64 in JSON
	Role   string `json:"role"`    // admin, researcher, hospital or reviewer
}

// Validate checks the genesis state: known roles, 32-byte keys, no key twice.
func (g *GenesisState) Validate() error {
	if len(g.Participants) == 0 {
		return fmt.Errorf("genesis app_state: no participants; add at least one admin")
	}
	seen := map[string]string{}
	for i, p := range g.Participants {
		if len(p.PubKey) != 32 {
			return fmt.Errorf("genesis app_state: participant %d (%q): pub_key has %d bytes, want a 32-byte ed25519 key", i, p.Name, len(p.PubKey))
		}
		if _, err := protocol.ParseRole(p.Role); err != nil {
			return fmt.Errorf("genesis app_state: participant %d (%q): %w", i, p.Name, err)
		}
		if prev, dup := seen[string(p.PubKey)]; dup {
			return fmt.Errorf("genesis app_state: participants %q and %q share a key", prev, p.Name)
		}
		seen[string(p.PubKey)] = p.Name
	}
	return nil
}

// ParseGenesis decodes and validates an app_state.
func ParseGenesis(appState []byte) (*GenesisState, error) {
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(appState, &sections); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	var g GenesisState
	known := []string{"participants"}
	for _, m := range Modules() {
		known = append(known, m.Name())
	}
	for name, sec := range sections {
		if name == "participants" {
			dec := json.NewDecoder(bytes.NewReader(sec))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g.Participants); err != nil {
				return nil, fmt.Errorf("genesis app_state: participants: %w", err)
			}
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("genesis app_state: unknown field %q: no module has that section (known: %s)", name, strings.Join(known, ", "))
		}
		if g.Modules == nil {
			g.Modules = map[string]json.RawMessage{}
		}
		g.Modules[name] = sec
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// participants returns the genesis participants as state records, sorted by key.
func (g *GenesisState) participants() []pb.Participant {
	out := make([]pb.Participant, 0, len(g.Participants))
	for _, p := range g.Participants {
		r, _ := protocol.ParseRole(p.Role)
		out = append(out, pb.Participant{PubKey: p.PubKey, Name: p.Name, Role: r})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].PubKey, out[j].PubKey) < 0 })
	return out
}
