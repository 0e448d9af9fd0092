package chain

import (
	"fmt"
	"strings"

	"github.com/fedledger/fedledger/chain/module"
	"github.com/fedledger/fedledger/protocol"
)

// router sends each message kind and query path to the module that owns
// it. The app owns the participants ("p/", /participant, /participants)
// and the bookkeeping keys outside the Merkle state.
type router struct {
	modules []module.Module
	byMsg   map[string]module.Module
	byPath  map[string]module.Module
}

// appPrefixes are the state prefixes the app itself owns.
var appPrefixes = []string{"p/"}

// newRouter checks that no two modules share a name, a message kind, a
// query path or a state prefix.
func newRouter(mods []module.Module) (*router, error) {
	r := &router{modules: mods, byMsg: map[string]module.Module{}, byPath: map[string]module.Module{}}
	names := map[string]bool{"participants": true}
	prefixes := map[string]string{}
	for _, p := range appPrefixes {
		prefixes[p] = "the app"
	}
	paths := map[string]bool{protocol.PathParticipant: true, protocol.PathParticipants: true}
	for _, m := range mods {
		if names[m.Name()] {
			return nil, fmt.Errorf("chain: two modules named %q", m.Name())
		}
		names[m.Name()] = true
		for _, p := range m.Prefixes() {
			if len(p) != 2 || p[1] != '/' || strings.HasPrefix(p, metaPrefix) {
				return nil, fmt.Errorf("chain: module %s: state prefix %q is not a letter and a slash", m.Name(), p)
			}
			if owner, ok := prefixes[p]; ok {
				return nil, fmt.Errorf("chain: modules %s and %s share the state prefix %q", owner, m.Name(), p)
			}
			prefixes[p] = m.Name()
		}
		for _, k := range m.Msgs() {
			if other, ok := r.byMsg[k]; ok {
				return nil, fmt.Errorf("chain: modules %s and %s both handle %s", other.Name(), m.Name(), k)
			}
			r.byMsg[k] = m
		}
		for _, p := range m.QueryPaths() {
			if paths[p] {
				return nil, fmt.Errorf("chain: module %s: query path %s is taken", m.Name(), p)
			}
			paths[p] = true
			r.byPath[p] = m
		}
	}
	return r, nil
}

// endBlock runs every module's EndBlock in registration order.
func (r *router) endBlock(c *module.Context) error {
	for _, m := range r.modules {
		if err := m.EndBlock(c); err != nil {
			return fmt.Errorf("module %s: %w", m.Name(), err)
		}
	}
	return nil
}
