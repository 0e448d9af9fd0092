package chain

import (
	"strings"
	"testing"

	"github.com/fedledger/fedledger/chain/module"
	"github.com/fedledger/fedledger/chain/training"
	"github.com/fedledger/fedledger/protocol"
)

// fakeModule is a module.Module with chosen names, for the router's checks.
type fakeModule struct {
	module.Base
	name     string
	prefixes []string
	msgs     []string
	paths    []string
}

func (m fakeModule) Name() string         { return m.name }
func (m fakeModule) Prefixes() []string   { return m.prefixes }
func (m fakeModule) Msgs() []string       { return m.msgs }
func (m fakeModule) QueryPaths() []string { return m.paths }

// TestRouterRefusesClashes: two modules may not share a name, a state
// prefix, a message kind or a query path, nor take the app's own; a
// prefix must be a letter and a slash.
func TestRouterRefusesClashes(t *testing.T) {
	for name, c := range map[string]struct {
		mods []module.Module
		want string
	}{
		"registered modules": {Modules(), ""},
		"same name":          {[]module.Module{training.Module{}, fakeModule{name: "training"}}, "two modules named"},
		"shared prefix":      {[]module.Module{training.Module{}, fakeModule{name: "x", prefixes: []string{"t/"}}}, "share the state prefix"},
		"app's prefix":       {[]module.Module{fakeModule{name: "x", prefixes: []string{"p/"}}}, "share the state prefix"},
		"bad prefix":         {[]module.Module{fakeModule{name: "x", prefixes: []string{"xy/"}}}, "not a letter and a slash"},
		"shared message":     {[]module.Module{training.Module{}, fakeModule{name: "x", msgs: []string{"commit_update"}}}, "both handle commit_update"},
		"shared path":        {[]module.Module{training.Module{}, fakeModule{name: "x", paths: []string{protocol.PathModel}}}, "is taken"},
		"app's path":         {[]module.Module{fakeModule{name: "x", paths: []string{protocol.PathParticipant}}}, "is taken"},
		"app's section":      {[]module.Module{fakeModule{name: "participants"}}, "two modules named"},
	} {
		_, err := newRouter(c.mods)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}
