package localnet

import (
	"context"
	"fmt"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"
)

// BlockMetas returns the metadata (size, number of txs) of a node's
// blocks from to to, asking 20 blocks at a time as the RPC allows.
func BlockMetas(ctx context.Context, c *rpchttp.HTTP, from, to int64) ([]*types.BlockMeta, error) {
	var out []*types.BlockMeta
	for h := from; h <= to; h += 20 {
		end := min(h+19, to)
		info, err := c.BlockchainInfo(ctx, h, end)
		if err != nil {
			return nil, fmt.Errorf("localnet: blocks %d-%d: %w", h, end, err)
		}
		for i := len(info.BlockMetas) - 1; i >= 0; i-- { // the RPC lists them newest first
			out = append(out, info.BlockMetas[i])
		}
	}
	return out, nil
}
