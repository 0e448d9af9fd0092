package explorer_test

import (
	"fmt"

	"github.com/fedledger/fedledger/explorer"
)

// An explorer needs a client of a node to read from (fl.Dial, with a
// light-client verifier for verified model hashes); the defaults give
// it its timeouts.
func ExampleConfig_Validate() {
	cfg := explorer.DefaultConfig()
	fmt.Println(cfg.QueryTimeout, cfg.AuditTimeout)
	fmt.Println(cfg.Validate())
	// Output:
	// 30s 10m0s
	// explorer: no client: dial a node first
}
