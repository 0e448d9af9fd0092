package chain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// GenesisState is the app_state of a fedledger genesis file:
//
//	{"participants": [
//	  {"name": "admin", "pub_key": "<base64 ed25519 key>", "role": "admin"},
//	  {"name": "cleveland", "pub_key": "...", "role": "hospital"}]}
type GenesisState struct {
	Participants []GenesisParticipant `json:"participants"`
}

// GenesisParticipant is one key and its role at genesis.
type GenesisParticipant struct {
	Name   string `json:"name"`
	PubKey []byte `json:"pub_key"` // 32-byte ed25519 public key, base64 in JSON
	Role   string `json:"role"`    // admin, researcher, hospital or reviewer
}

var roleNames = map[string]pb.Role{
	"admin":      pb.ROLE_ADMIN,
	"researcher": pb.ROLE_RESEARCHER,
	"hospital":   pb.ROLE_HOSPITAL,
	"reviewer":   pb.ROLE_REVIEWER,
}

// RoleName returns the lower-case name of a role, as genesis files write it.
func RoleName(r pb.Role) string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return "unknown"
}

// ParseRole reads a role name.
func ParseRole(s string) (pb.Role, error) {
	r, ok := roleNames[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return 0, fmt.Errorf("unknown role %q (known: admin, researcher, hospital, reviewer)", s)
	}
	return r, nil
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
		if _, err := ParseRole(p.Role); err != nil {
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
	var g GenesisState
	dec := json.NewDecoder(bytes.NewReader(appState))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
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
		r, _ := ParseRole(p.Role)
		out = append(out, pb.Participant{PubKey: p.PubKey, Name: p.Name, Role: r})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].PubKey, out[j].PubKey) < 0 })
	return out
}
