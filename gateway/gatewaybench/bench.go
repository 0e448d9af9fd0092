// Package gatewaybench measures a vital-signs gateway end to end: an
// in-process network of CometBFT validators, the gateway as a process of
// its own (so that it can be killed with SIGKILL and restarted), and a
// fleet of simulated bedside monitors replaying the ICU recordings.
package gatewaybench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/gateway"
	"github.com/fedledger/fedledger/records/recordsnet"
)

// Config is one bench run.
type Config struct {
	Devices    int
	Rate       float64 // readings a second per device
	Duration   time.Duration
	Validators int
	// Kill sends SIGKILL to the gateway halfway through and restarts it
	// at once on the same store and address.
	Kill bool
	// Dir is the work folder (chain, keys, store); Data holds vitals/.
	Dir, Data string
	// Command is the command that runs `fedledger ARGS...`.
	Command func(args ...string) *exec.Cmd
	Out     io.Writer
}

// DefaultConfig is 10,000 devices at 1 Hz for 60 s on 4 validators.
func DefaultConfig() Config {
	return Config{Devices: 10000, Rate: 1, Duration: time.Minute, Validators: 4}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Devices < 1 || c.Devices > 100000:
		return fmt.Errorf("gatewaybench: %d devices; want 1 to 100000", c.Devices)
	case c.Validators < 1 || c.Validators > 16:
		return fmt.Errorf("gatewaybench: %d validators; want 1 to 16", c.Validators)
	case c.Dir == "" || c.Command == nil:
		return errors.New("gatewaybench: a work folder and the fedledger command are required")
	}
	return nil
}

// Result is what a run measured.
type Result struct {
	Devices    int     `json:"devices"`
	Rate       float64 `json:"rate_per_device"`
	Seconds    float64 `json:"seconds"`
	Validators int     `json:"validators"`
	Kills      int     `json:"gateway_kills"`
	// Sent counts distinct readings sent, Acked those acknowledged,
	// Stored those the gateway holds at the end, Anchored those of them in
	// the record log. Lost = Acked − Stored when positive: acknowledged
	// readings the gateway does not have (must be 0).
	Sent        int64            `json:"sent"`
	Acked       int64            `json:"acked"`
	Stored      uint64           `json:"stored"`
	Anchored    uint64           `json:"anchored"`
	Lost        int64            `json:"lost"`
	Unacked     int64            `json:"unacked"`
	Resent      int64            `json:"resent"`
	Duplicates  int64            `json:"stored_once_resends"`
	Refused     map[string]int64 `json:"refused,omitempty"`
	ReadingsSec float64          `json:"readings_per_second"`
	AckP50ms    float64          `json:"ack_p50_ms"`
	AckP99ms    float64          `json:"ack_p99_ms"`
	// Publish to anchored: from a reading's time (set when it is sent) to
	// the commit of the block that anchored it, as the gateway measured it
	// (after a kill: the readings of the restarted gateway).
	AnchorP50ms     float64 `json:"publish_to_anchored_p50_ms"`
	AnchorP99ms     float64 `json:"publish_to_anchored_p99_ms"`
	AnchorMaxms     float64 `json:"publish_to_anchored_max_ms"`
	AnchorSamples   int     `json:"publish_to_anchored_samples"`
	LastAnchorBlock int64   `json:"last_anchor_height"`
}

// proc is the gateway process.
type proc struct {
	cmd  *exec.Cmd
	args []string
	c    Config
	log  *os.File
}

func (p *proc) start() error {
	p.cmd = p.c.Command(p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	return p.cmd.Start()
}

// Run runs the bench.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	recs, err := datasets.LoadVitals(datasets.FindDir(cfg.Data), datasets.VitalsNumerics...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "starting %d validators\n", cfg.Validators)
	nw, err := recordsnet.Start(ctx, recordsnet.Config{Dir: filepath.Join(cfg.Dir, "chain"), Validators: cfg.Validators})
	if err != nil {
		return nil, err
	}
	defer nw.Stop()
	home := filepath.Join(cfg.Dir, "north")
	if err := fl.WriteKeyFile(filepath.Join(home, "key.json"), "north", "hospital", recordsnet.Key("north")); err != nil {
		return nil, err
	}
	gen, err := os.ReadFile(filepath.Join(nw.Nodes()[0].Home(), "config", "genesis.json"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(home, "genesis.json"), gen, 0o644); err != nil {
		return nil, err
	}
	ids := make([]string, cfg.Devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bed-%d", i+1)
	}
	devFile := filepath.Join(cfg.Dir, "devices.json")
	added, secrets, err := gateway.AddDevices(devFile, ids)
	if err != nil {
		return nil, err
	}
	creds := make([]devices.Credential, len(added))
	for i := range added {
		creds[i] = devices.Credential{ID: added[i].ID, Secret: secrets[i]}
	}
	mqttAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	statusAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(cfg.Dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p := &proc{c: cfg, log: logf, args: []string{"gateway", "serve", "--home", home, "--node", nw.Addrs(), "--store", filepath.Join(cfg.Dir, "store"),
		"--devices", devFile, "--listen", mqttAddr, "--status-listen", statusAddr, "--verbose"}}
	if err := p.start(); err != nil {
		return nil, err
	}
	defer func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(os.Interrupt)
			p.cmd.Wait()
		}
	}()
	statusURL := "http://" + statusAddr + "/status"
	if _, err := waitStatus(ctx, statusURL, time.Minute); err != nil {
		return nil, fmt.Errorf("gatewaybench: the gateway did not start: %w (see %s)", err, logf.Name())
	}
	fmt.Fprintf(out, "gateway on %s; %d devices at %g Hz for %s\n", mqttAddr, cfg.Devices, cfg.Rate, cfg.Duration)
	sim := devices.DefaultSimConfig()
	sim.Broker, sim.Devices, sim.Records, sim.Rate, sim.Duration, sim.Out = mqttAddr, creds, recs, cfg.Rate, cfg.Duration, out
	sim.Drain = time.Minute
	res := &Result{Devices: cfg.Devices, Rate: cfg.Rate, Validators: cfg.Validators}
	killed := make(chan error, 1)
	if cfg.Kill {
		go func() {
			select {
			case <-ctx.Done():
				killed <- nil
				return
			case <-time.After(cfg.Duration / 2):
			}
			fmt.Fprintf(out, "kill -9 of the gateway (pid %d)\n", p.cmd.Process.Pid)
			p.cmd.Process.Kill()
			p.cmd.Wait()
			if err := p.start(); err != nil {
				killed <- err
				return
			}
			_, err := waitStatus(ctx, statusURL, time.Minute)
			fmt.Fprintf(out, "gateway restarted (pid %d)\n", p.cmd.Process.Pid)
			killed <- err
		}()
		res.Kills = 1
	} else {
		killed <- nil
	}
	t0 := time.Now()
	sr, err := devices.Simulate(ctx, sim)
	if err != nil {
		return nil, err
	}
	if err := <-killed; err != nil {
		return nil, fmt.Errorf("gatewaybench: restart after the kill: %w", err)
	}
	res.Seconds = cfg.Duration.Seconds()
	res.Sent, res.Acked, res.Unacked, res.Resent, res.Refused = sr.Sent, sr.Acked, sr.Unacked, sr.Resent, sr.Refused
	res.AckP50ms, res.AckP99ms = sr.AckP50ms, sr.AckP99ms
	// Every stored reading anchored, then the final counts.
	var st gateway.Status
	for deadline := time.Now().Add(time.Minute); ; {
		if st, err = waitStatus(ctx, statusURL, 10*time.Second); err != nil {
			return nil, err
		}
		if st.Anchored == st.Stored || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = t0
	res.Stored, res.Anchored, res.Duplicates = st.Stored, st.Anchored, st.Duplicates
	res.ReadingsSec = float64(st.Stored) / cfg.Duration.Seconds()
	if d := res.Acked - int64(st.Stored); d > 0 {
		res.Lost = d
	}
	res.AnchorP50ms, res.AnchorP99ms, res.AnchorMaxms, res.AnchorSamples, res.LastAnchorBlock = st.AnchorLatencyP50, st.AnchorLatencyP99, st.AnchorLatencyMax, st.LatencySamples, st.LastAnchorHeight
	p.cmd.Process.Signal(os.Interrupt)
	if err := p.cmd.Wait(); err != nil {
		fmt.Fprintf(out, "gateway exit: %v (see %s)\n", err, logf.Name())
	}
	return res, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitStatus polls the gateway's status until it answers or limit passes.
func waitStatus(ctx context.Context, url string, limit time.Duration) (gateway.Status, error) {
	var st gateway.Status
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil {
				return st, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, fmt.Errorf("no status from %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
