package bench

import (
	"context"
	"testing"
	"time"
)

// TestLargeSmall runs `bench large` at a size where the initial model is
// too large to send (the chain draws it) and updates are chunked: int32
// updates go in several chunks, top-1% ones in one small tx, and the
// report shows the difference in bytes on chain.
func TestLargeSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two federations through 4-validator networks")
	}
	dir := dataDir(t)
	cfg := DefaultLargeConfig()
	cfg.Source.Dir = dir
	cfg.Source.Hospitals = 4
	cfg.Params = 200_000
	cfg.Rounds = 1
	cfg.Encodings = []string{"int32", "topk"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Large(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	i32, topk := res[0], res[1]
	for _, r := range res {
		if r.Aggregated != 4 || r.SecondsPerRound <= 0 || r.Params < 199_000 || r.Params > 201_000 {
			t.Errorf("%s: %+v", r.Encoding, r)
		}
	}
	if i32.UpdateBytes < 4*i32.Params || i32.ChainBytesPerRound < float64(4*i32.UpdateBytes) {
		t.Errorf("int32: update %d bytes, %0.f block bytes per round; want ≥ 4 bytes per parameter from each of 4 hospitals", i32.UpdateBytes, i32.ChainBytesPerRound)
	}
	if topk.UpdateBytes*20 > i32.UpdateBytes || topk.ChainBytesPerRound*10 > i32.ChainBytesPerRound {
		t.Errorf("top-1%% int8 (%d bytes, %.0f per round) not far smaller than int32 (%d, %.0f)", topk.UpdateBytes, topk.ChainBytesPerRound, i32.UpdateBytes, i32.ChainBytesPerRound)
	}
}
