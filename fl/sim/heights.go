package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/fedledger/fedledger/chain/localnet"
)

type roundTiming struct {
	seconds    float64
	chainBytes int64
	latencyMs  float64
}

// heightClock records when each height was first seen committed.
type heightClock struct {
	mu   sync.Mutex
	seen map[int64]time.Time
}

func (h *heightClock) firstSeen(height int64) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.seen[height]
	return t, ok
}

// watchHeights polls the node's latest height every 5 ms until ctx ends.
func watchHeights(ctx context.Context, n *localnet.Node) (*heightClock, error) {
	c, err := n.Client()
	if err != nil {
		return nil, err
	}
	hc := &heightClock{seen: map[int64]time.Time{}}
	go func() {
		var last int64
		for ctx.Err() == nil {
			if st, err := c.Status(ctx); err == nil {
				now := time.Now()
				hc.mu.Lock()
				for h := last + 1; h <= st.SyncInfo.LatestBlockHeight; h++ {
					if last > 0 { // heights before the first poll have no time
						hc.seen[h] = now
					}
				}
				hc.mu.Unlock()
				last = max(last, st.SyncInfo.LatestBlockHeight)
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return hc, nil
}

// blockBytes sums the sizes of blocks from to to.
func blockBytes(ctx context.Context, c *rpchttp.HTTP, from, to int64) (int64, error) {
	metas, err := localnet.BlockMetas(ctx, c, from, to)
	if err != nil {
		return 0, fmt.Errorf("sim: %w", err)
	}
	var sum int64
	for _, m := range metas {
		sum += int64(m.BlockSize)
	}
	return sum, nil
}
