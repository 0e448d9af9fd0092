package devices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/gateway"
)

// Credential is a device's id and secret.
type Credential struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// SimConfig is a fleet of simulated bedside monitors.
type SimConfig struct {
	// Broker is the gateway's MQTT address (host:port).
	Broker string
	// Devices are the monitors' credentials; device i replays record
	// i mod len(Records) for patient "patient-i", from its own offset.
	Devices []Credential
	// Records are numerics records to replay (datasets.LoadVitals).
	Records []*datasets.WFDBRecord
	// Rate is readings per second per device.
	Rate float64
	// Duration is how long the fleet sends; the readings still unacknowledged
	// then are waited for, resent across reconnections, up to Drain.
	Duration, Drain time.Duration
	// Seed fixes the offsets and the phases.
	Seed uint64
	// Out receives a progress line every ProgressEvery (0: none).
	Out           io.Writer
	ProgressEvery time.Duration
}

// DefaultSimConfig is 1 reading a second for 60 s, 30 s to drain.
func DefaultSimConfig() SimConfig {
	return SimConfig{Rate: 1, Duration: time.Minute, Drain: 30 * time.Second, Seed: 1, ProgressEvery: 10 * time.Second}
}

// Validate checks the configuration.
func (c SimConfig) Validate() error {
	switch {
	case c.Broker == "":
		return errors.New("devices: no broker address")
	case len(c.Devices) == 0:
		return errors.New("devices: no devices")
	case len(c.Records) == 0:
		return errors.New("devices: no records to replay; load ../shared/datasets/vitals")
	case !(c.Rate > 0) || c.Rate > 1000:
		return fmt.Errorf("devices: rate %g a second per device; want more than 0, at most 1000", c.Rate)
	case c.Duration <= 0:
		return errors.New("devices: the duration must be positive")
	}
	return nil
}

// SimResult is what the fleet saw.
type SimResult struct {
	Devices int `json:"devices"`
	// Sent counts distinct readings sent; Acked those the gateway
	// acknowledged (stored, or a resend of one stored); Refused those it
	// refused, by reason; Unacked those never acknowledged by the end.
	Sent     int64            `json:"sent"`
	Acked    int64            `json:"acked"`
	Refused  map[string]int64 `json:"refused,omitempty"`
	Unacked  int64            `json:"unacked"`
	Resent   int64            `json:"resent"`
	Connects int64            `json:"connects"`
	// Ack latency: from a reading's first send to its acknowledgement.
	AckP50ms float64 `json:"ack_p50_ms"`
	AckP99ms float64 `json:"ack_p99_ms"`
	Seconds  float64 `json:"seconds"`
}

// Simulate runs the fleet until cfg.Duration has passed (and the drain),
// or ctx ends.
func Simulate(ctx context.Context, cfg SimConfig) (*SimResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	sendUntil := start.Add(cfg.Duration)
	dctx, cancel := context.WithDeadline(ctx, sendUntil.Add(cfg.Drain))
	defer cancel()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10e7))
	var res SimResult
	res.Devices, res.Refused = len(cfg.Devices), map[string]int64{}
	var sent, acked, unacked, resent, connects atomic.Int64
	var mu sync.Mutex // guards res.Refused and lats
	var lats []float32
	period := time.Duration(float64(time.Second) / cfg.Rate)
	var wg sync.WaitGroup
	for i, cred := range cfg.Devices {
		rec := cfg.Records[i%len(cfg.Records)]
		mon, err := NewMonitor(cred.ID, fmt.Sprintf("patient-%d", i), rec, rng.IntN(max(rec.Samples, 1)))
		if err != nil {
			return nil, err
		}
		phase := time.Duration(rng.Int64N(int64(period)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn *Conn
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			dial := func() bool {
				for wait := 50 * time.Millisecond; dctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
					c, err := Dial(dctx, cfg.Broker, cred.ID, cred.Secret)
					if err == nil {
						conn = c
						connects.Add(1)
						return true
					}
					if errors.Is(err, ErrRefused) {
						mu.Lock()
						res.Refused[gateway.RefusedCredentials]++
						mu.Unlock()
						return false
					}
					sleepCtx(dctx, wait+time.Duration(rand.Int64N(int64(wait))))
				}
				return false
			}
			if !sleepCtx(dctx, phase) || !dial() {
				return
			}
			next := time.Now()
			for next.Before(sendUntil) {
				if !sleepCtx(dctx, time.Until(next)) {
					return
				}
				t0 := time.Now()
				_, payload := mon.Next(t0)
				next = next.Add(period)
				if payload == nil {
					continue
				}
				sent.Add(1)
				for tries := 0; ; tries++ {
					if tries > 0 {
						resent.Add(1)
					}
					err := conn.Publish(dctx, gateway.Topic(cred.ID), payload)
					if err == nil {
						acked.Add(1)
						mu.Lock()
						lats = append(lats, float32(time.Since(t0).Seconds()*1000))
						mu.Unlock()
						break
					}
					var ref *RefusedError
					if errors.As(err, &ref) {
						mu.Lock()
						res.Refused[ref.Kind()]++
						mu.Unlock()
						break
					}
					if dctx.Err() != nil {
						unacked.Add(1)
						return
					}
					// The connection ended: reconnect, send the same reading again.
					conn.Close()
					conn = nil
					if !dial() {
						unacked.Add(1)
						return
					}
				}
			}
		}()
	}
	stopProgress := make(chan struct{})
	if cfg.Out != nil && cfg.ProgressEvery > 0 {
		go func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					fmt.Fprintf(cfg.Out, "devices: %s: %d sent, %d acknowledged, %d resent, %d connections\n",
						time.Since(start).Round(time.Second), sent.Load(), acked.Load(), resent.Load(), connects.Load())
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	res.Sent, res.Acked, res.Unacked, res.Resent, res.Connects = sent.Load(), acked.Load(), unacked.Load(), resent.Load(), connects.Load()
	if len(lats) > 0 {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		res.AckP50ms = float64(lats[len(lats)/2])
		res.AckP99ms = float64(lats[min(len(lats)-1, len(lats)*99/100)])
	}
	res.Seconds = time.Since(start).Seconds()
	return &res, ctx.Err()
}

// sleepCtx sleeps d or until ctx ends; false if ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
