package bench

import (
	"context"
	"testing"
	"time"
)

// TestChainSmall runs the throughput comparison on a small load: both
// networks must order every transaction, each run must report positive
// rates, and the sizes the kvstore run sends are those of fedledger's reveals.
func TestChainSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two 4-validator networks")
	}
	cfg := DefaultChainConfig()
	cfg.Updates = 12
	cfg.UpdateBytes = 20_000
	cfg.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Chain(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Updates != 12 || r.UpdateBytes < 19_000 || r.UpdateBytes > 20_000 {
		t.Errorf("report: %d updates of %d bytes; want 12 of about 20000", r.Updates, r.UpdateBytes)
	}
	for _, run := range []ChainRun{r.Fedledger, r.KVStore} {
		if run.Seconds <= 0 || run.MBPerSecond <= 0 || run.Blocks < 1 {
			t.Errorf("%s run: %+v", run.App, run)
		}
	}
	if r.Ratio != r.FedledgerMBps/r.KVStoreMBps {
		t.Errorf("ratio %v is not %v/%v", r.Ratio, r.FedledgerMBps, r.KVStoreMBps)
	}
}

func TestChainConfigValidate(t *testing.T) {
	for name, mod := range map[string]func(*ChainConfig){
		"no validators": func(c *ChainConfig) { c.Validators = 0 },
		"tiny updates":  func(c *ChainConfig) { c.UpdateBytes = 10 },
		"huge updates":  func(c *ChainConfig) { c.UpdateBytes = 2 << 20 },
		"no updates":    func(c *ChainConfig) { c.Updates = 0 },
		"no senders":    func(c *ChainConfig) { c.Senders = 0 },
	} {
		cfg := DefaultChainConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
	if err := DefaultChainConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

// TestChainManyHospitals: the comparison's one task invites every sender,
// more than the default cap of 100 hospitals; the bench's genesis raises
// the cap as a consortium would (bench chain --updates 200, the README's
// example, was refused with code 16 once the caps came in).
func TestChainManyHospitals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two networks")
	}
	cfg := DefaultChainConfig()
	cfg.Validators, cfg.Updates, cfg.UpdateBytes, cfg.Dir = 1, 150, 1024, t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Chain(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Updates != 150 {
		t.Errorf("%d updates", r.Updates)
	}
}
