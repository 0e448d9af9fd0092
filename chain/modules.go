package chain

import (
	"github.com/fedledger/fedledger/chain/module"
	"github.com/fedledger/fedledger/chain/records"
	"github.com/fedledger/fedledger/chain/training"
)

// Modules are the app's on-chain systems, in the order their EndBlocks
// run. A new system is one package implementing module.Module and one
// line here.
func Modules() []module.Module {
	return []module.Module{
		training.Module{},
		records.Module{},
	}
}
