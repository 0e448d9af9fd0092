package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records"
)

// Device is one device's credential: its id (the MQTT username and the
// last part of its topic) and the SHA-256 of its secret (the MQTT
// password). Secrets are random 32-byte tokens (NewDevice makes them), so
// a plain hash is as good as a slow one.
type Device struct {
	ID           string `json:"id"`
	SecretSHA256 string `json:"secret_sha256"`
}

// NewDevice makes a device credential and returns it with the secret to
// give the device (hex; shown once, kept nowhere).
func NewDevice(id string) (Device, string, error) {
	if id == "" || len(id) > 64 || bytes.ContainsAny([]byte(id), "/+#\x00 ") {
		return Device{}, "", fmt.Errorf("gateway: device id %q: want 1 to 64 characters without / + # or spaces", id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Device{}, "", err
	}
	secret := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	return Device{ID: id, SecretSHA256: hex.EncodeToString(sum[:])}, secret, nil
}

// Topic is the one topic a device may publish to.
func Topic(device string) string { return "vitals/" + device }

// Config is what a gateway runs with.
type Config struct {
	// Listener takes the devices' MQTT connections (MQTT 3.1.1 and 5;
	// refusals carry a reason code in 5). Required.
	Listener net.Listener
	// Dir holds the store. Required.
	Dir string
	// Devices are the credentials the gateway accepts.
	Devices []Device
	// Key is the hospital's pseudonym key (at least 32 bytes).
	Key []byte
	// Client anchors each batch of readings in the hospital's record log
	// (it signs as the hospital); nil stores without anchoring.
	Client *fl.Client
	// AnchorInterval is how often the gateway anchors what arrived.
	AnchorInterval time.Duration
	// Log receives the gateway's own events; nil discards them.
	Log *slog.Logger
}

// DefaultConfig anchors every 200 ms.
func DefaultConfig() Config { return Config{AnchorInterval: 200 * time.Millisecond} }

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Listener == nil:
		return errors.New("gateway: no listener for the devices")
	case c.Dir == "":
		return errors.New("gateway: no store folder")
	case len(c.Key) < 32:
		return errors.New("gateway: the pseudonym key must have at least 32 bytes")
	case c.AnchorInterval <= 0:
		return errors.New("gateway: the anchor interval must be positive")
	}
	seen := map[string]bool{}
	for _, d := range c.Devices {
		if seen[d.ID] {
			return fmt.Errorf("gateway: device %q listed twice", d.ID)
		}
		seen[d.ID] = true
		if b, err := hex.DecodeString(d.SecretSHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("gateway: device %q: secret_sha256 must be 64 hex digits", d.ID)
		}
	}
	return nil
}

// Gateway takes readings from devices over MQTT, checks and pseudonymises
// them, stores them before it acknowledges them, and anchors them on chain.
type Gateway struct {
	cfg     Config
	store   *Store
	server  *mqtt.Server
	secrets map[string][]byte // device → SHA-256 of its secret
	log     *slog.Logger
	started time.Time

	refused     sync.Map // reason → *atomic.Int64
	sendFailing bool     // Run's goroutine only: the last send failed (said once)
	duplicates  atomic.Int64
	lastHeight  atomic.Int64

	// mu guards the measurement times of readings not yet anchored, the
	// latency ring and the rate samples.
	mu       sync.Mutex
	measured map[uint64]time.Time
	lat      []float32 // measured→anchored, ms, the last len(lat) readings
	latNext  int
	latFull  bool
	rate     []rateSample
}

type rateSample struct {
	at     time.Time
	stored uint64
}

// latencyWindow is how many anchored readings the latency percentiles cover.
const latencyWindow = 1 << 20

// New opens the store and sets up the broker; Run serves.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := NewPseudonymizer(cfg.Key)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(cfg.Dir, p)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, store: st, secrets: map[string][]byte{}, log: cfg.Log, measured: map[uint64]time.Time{},
		lat: make([]float32, latencyWindow), started: time.Now()}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range cfg.Devices {
		g.secrets[d.ID], _ = hex.DecodeString(d.SecretSHA256)
	}
	g.server = mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g.server.Options.Capabilities.MaximumClients = 1 << 20
	if err := g.server.AddHook(&hook{g: g}, nil); err != nil {
		st.Close()
		return nil, err
	}
	if err := g.server.AddListener(listeners.NewNet("devices", cfg.Listener)); err != nil {
		st.Close()
		return nil, err
	}
	return g, nil
}

// Store is the gateway's store (for export and proofs).
func (g *Gateway) Store() *Store { return g.store }

// Run serves the devices and anchors until ctx ends, then stops taking
// readings, anchors what it has (for up to 15 s) and closes the store.
//
// Anchoring is a stream: every AnchorInterval the readings that arrived
// are broadcast as anchor txs (fl.Client.Send) without waiting for the
// ones before, and a second goroutine waits for each in order (Await) and
// records where its leaves went. A reading so waits for one interval and
// its own tx's block, not for the txs ahead of it.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.server.Serve(); err != nil {
		g.store.Close()
		return err
	}
	g.log.Info("serving devices", "address", g.cfg.Listener.Addr().String(), "devices", len(g.cfg.Devices))
	queue := make(chan inflight, maxInflight)
	// The awaiter outlives ctx by the grace period, to see the txs in
	// flight into blocks.
	actx, stopAwait := context.WithCancel(context.Background())
	defer stopAwait()
	awaited := make(chan struct{})
	go func() { defer close(awaited); g.await(actx, queue) }()
	_, sent := g.store.Counts()
	tick := time.NewTicker(g.cfg.AnchorInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			g.sampleRate()
			if g.cfg.Client != nil {
				sent = g.send(ctx, sent, queue)
			}
		}
	}
	g.server.Close()
	close(queue)
	grace := time.AfterFunc(15*time.Second, stopAwait)
	<-awaited
	grace.Stop()
	fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var runErr error
	if err := g.anchor(fctx); err != nil {
		runErr = fmt.Errorf("gateway: anchoring at stop: %w (the readings stay stored and are anchored at the next start)", err)
	}
	if err := g.store.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// anchorMsg is the anchor of stored readings (canonical bytes): their
// leaves, in order.
func anchorMsg(readings [][]byte) *pb.Msg {
	leaves := make([][]byte, len(readings))
	for i, c := range readings {
		leaves[i] = Leaf(c)
	}
	return &pb.Msg{Sum: &pb.Msg_AnchorRecords{AnchorRecords: &pb.AnchorRecords{Leaves: leaves}}}
}

// inflight is an anchor tx sent and not yet seen in a block.
type inflight struct {
	bt   Batch
	sent *fl.Sent
}

// maxInflight bounds the anchor txs in flight (each of up to
// protocol.MaxAnchorLeaves leaves).
const maxInflight = 16

// send broadcasts the readings stored after seq sent as anchor txs, up to
// the room in the queue, and returns how far it got.
func (g *Gateway) send(ctx context.Context, sent uint64, queue chan<- inflight) uint64 {
	upTo, _ := g.store.Counts()
	for sent < upTo && len(queue) < cap(queue) {
		end := min(upTo, sent+protocol.MaxAnchorLeaves)
		readings, err := g.store.Range(sent, end)
		if err != nil {
			g.log.Warn("anchor: read the store", "error", err)
			return sent
		}
		s, err := g.cfg.Client.Send(ctx, anchorMsg(readings))
		if err != nil {
			if ctx.Err() == nil && !g.sendFailing {
				g.log.Warn("anchor: cannot send; retrying every interval, the readings stay stored", "readings", len(readings), "error", err)
			}
			g.sendFailing = true
			return sent // the same readings again at the next tick
		}
		if g.sendFailing {
			g.log.Info("anchor: sending again", "from", sent)
			g.sendFailing = false
		}
		queue <- inflight{Batch{FirstSeq: sent, Count: end - sent}, s}
		g.log.Debug("anchor sent", "first", sent, "readings", end-sent)
		sent = end
	}
	return sent
}

// await waits for each sent anchor tx in order and records its batch; a
// tx that fails in its block is submitted again until it goes in or ctx
// ends.
func (g *Gateway) await(ctx context.Context, queue <-chan inflight) {
	c := g.cfg.Client
	for it := range queue {
		inc, err := c.Await(ctx, it.sent)
		for err != nil && ctx.Err() == nil {
			g.log.Warn("anchor: not included; submitting again", "first", it.bt.FirstSeq, "readings", it.bt.Count, "error", err)
			time.Sleep(time.Second)
			inc, err = c.Submit(ctx, it.sent.Msg)
		}
		if err != nil {
			return // stopping: Run anchors the rest from the mark
		}
		bt := it.bt
		if bt.FirstLeaf, err = records.AnchoredAt(ctx, c, c.PubKey(), inc, int(bt.Count)); err == nil {
			bt.Height = inc.Height
			err = g.store.MarkAnchored(bt)
		}
		if err != nil {
			g.log.Error("anchor: record the batch", "first", bt.FirstSeq, "error", err)
			return
		}
		g.lastHeight.Store(bt.Height)
		g.anchored(bt, time.Now())
		g.log.Debug("anchored", "first", bt.FirstSeq, "readings", bt.Count, "height", bt.Height, "seconds", time.Since(it.sent.At).Seconds())
	}
}

// anchorDepth is how many anchor txs the gateway has in flight at once:
// one tx's round trip (broadcast, block, commit) is longer than a block,
// so a gateway that waited for each would fall behind a steady inflow.
const anchorDepth = 4

// anchor puts the readings stored by now and not anchored yet in the
// record log, in txs of up to protocol.MaxAnchorLeaves leaves, anchorDepth
// txs in flight at once (their nonces keep them in order). A tx that
// fails stops the round; the readings from it on are anchored next round
// (a later tx of the same round that did go in is then anchored twice,
// which costs log space only: the batch record points at the second copy).
func (g *Gateway) anchor(ctx context.Context) error {
	if g.cfg.Client == nil {
		return nil
	}
	upTo, _ := g.store.Counts()
	for {
		first, readings, err := g.store.Unanchored(anchorDepth * protocol.MaxAnchorLeaves)
		if err != nil || len(readings) == 0 || first >= upTo {
			return err
		}
		if rest := upTo - first; uint64(len(readings)) > rest {
			readings = readings[:rest]
		}
		var msgs []*pb.Msg
		var batches []Batch
		for off := 0; off < len(readings); off += protocol.MaxAnchorLeaves {
			part := readings[off:min(off+protocol.MaxAnchorLeaves, len(readings))]
			msgs = append(msgs, anchorMsg(part))
			batches = append(batches, Batch{FirstSeq: first + uint64(off), Count: uint64(len(part))})
		}
		t0 := time.Now()
		results := g.cfg.Client.SubmitAll(ctx, msgs)
		at := time.Now()
		g.log.Debug("anchor", "readings", len(readings), "txs", len(msgs), "seconds", at.Sub(t0).Seconds())
		for i, r := range results {
			if r.Err != nil {
				return fmt.Errorf("anchor %d readings: %w", batches[i].Count, r.Err)
			}
			bt := batches[i]
			if bt.FirstLeaf, err = records.AnchoredAt(ctx, g.cfg.Client, g.cfg.Client.PubKey(), r.Included, int(bt.Count)); err != nil {
				return err
			}
			bt.Height = r.Included.Height
			if err := g.store.MarkAnchored(bt); err != nil {
				return err
			}
			g.lastHeight.Store(bt.Height)
			g.anchored(bt, at)
		}
	}
}

// anchored records how long each reading of the batch took from its
// measurement to its block.
func (g *Gateway) anchored(bt Batch, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for seq := bt.FirstSeq; seq < bt.FirstSeq+bt.Count; seq++ {
		t, ok := g.measured[seq]
		if !ok {
			continue // stored before this start
		}
		delete(g.measured, seq)
		g.lat[g.latNext] = float32(at.Sub(t).Seconds() * 1000)
		g.latNext++
		if g.latNext == len(g.lat) {
			g.latNext, g.latFull = 0, true
		}
	}
}

func (g *Gateway) sampleRate() {
	stored, _ := g.store.Counts()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rate = append(g.rate, rateSample{time.Now(), stored})
	for len(g.rate) > 2 && time.Since(g.rate[0].at) > 10*time.Second {
		g.rate = g.rate[1:]
	}
}

// Status is what the gateway has done since its store was made (counts)
// and since it started (rates, refusals, latencies).
type Status struct {
	DevicesConnected int64            `json:"devices_connected"`
	DevicesKnown     int              `json:"devices_known"`
	Stored           uint64           `json:"stored"`
	Anchored         uint64           `json:"anchored"`
	Duplicates       int64            `json:"duplicates"`
	Refused          map[string]int64 `json:"refused"`
	ReadingsPerSec   float64          `json:"readings_per_second"`
	LastAnchorHeight int64            `json:"last_anchor_height"`
	// AnchorLatency is from a reading's measurement (its effectiveDateTime,
	// the device's clock) to the commit of the block that anchored it, in
	// ms, over the last readings anchored since the start.
	AnchorLatencyP50 float64 `json:"anchor_latency_p50_ms"`
	AnchorLatencyP99 float64 `json:"anchor_latency_p99_ms"`
	AnchorLatencyMax float64 `json:"anchor_latency_max_ms"`
	LatencySamples   int     `json:"anchor_latency_samples"`
	UptimeSeconds    float64 `json:"uptime_seconds"`
}

// Status reports the gateway's counts, rates and latencies.
func (g *Gateway) Status() Status {
	st := Status{DevicesConnected: atomic.LoadInt64(&g.server.Info.ClientsConnected), DevicesKnown: len(g.secrets),
		Duplicates: g.duplicates.Load(), Refused: map[string]int64{}, LastAnchorHeight: g.lastHeight.Load(),
		UptimeSeconds: time.Since(g.started).Seconds()}
	st.Stored, st.Anchored = g.store.Counts()
	g.refused.Range(func(k, v any) bool {
		st.Refused[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	g.mu.Lock()
	if n := len(g.rate); n >= 2 {
		a, b := g.rate[0], g.rate[n-1]
		if d := b.at.Sub(a.at).Seconds(); d > 0 {
			st.ReadingsPerSec = float64(b.stored-a.stored) / d
		}
	}
	n := g.latNext
	if g.latFull {
		n = len(g.lat)
	}
	lat := append([]float32(nil), g.lat[:n]...)
	g.mu.Unlock()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
		st.AnchorLatencyP50, st.AnchorLatencyP99, st.AnchorLatencyMax, st.LatencySamples = q(0.5), q(0.99), float64(lat[len(lat)-1]), len(lat)
	}
	return st
}

func (g *Gateway) count(reason string) {
	v, _ := g.refused.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Refusals the broker makes before a reading is read.
const (
	RefusedCredentials = "bad_credentials" // unknown device or wrong secret
	RefusedTopic       = "wrong_topic"     // a publish outside the device's topic, or a subscribe
	RefusedStore       = "store_error"     // the store failed; the device resends
)

// hook plugs the gateway into the broker.
type hook struct {
	mqtt.HookBase
	g *Gateway
}

func (h *hook) ID() string { return "fedledger-gateway" }

func (h *hook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPublish
}

// OnConnectAuthenticate accepts a device whose username is a known id and
// whose password is its secret.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	want, ok := h.g.secrets[string(pk.Connect.Username)]
	got := sha256.Sum256(pk.Connect.Password)
	if !ok || subtle.ConstantTimeCompare(want, got[:]) != 1 {
		h.g.count(RefusedCredentials)
		return false
	}
	return true
}

// OnACLCheck lets a device publish to its own topic only, and read nothing.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write && topic == Topic(string(cl.Properties.Username)) {
		return true
	}
	h.g.count(RefusedTopic)
	return false
}

// OnPublish checks, pseudonymises and stores a reading; the broker
// acknowledges it (QoS 1) only after this returns, so only once it is on
// disk. A refusal is counted and answered with a reason code (MQTT 5).
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	device := string(cl.Properties.Username)
	r, err := ParseReading(pk.Payload, device, time.Now())
	if err != nil {
		reason := Reason(err)
		h.g.count(reason)
		code := packets.ErrPayloadFormatInvalid
		if reason == RefusedDevice {
			code = packets.ErrNotAuthorized
		}
		code.Reason = err.Error()
		return pk, code
	}
	seq, dup, err := h.g.store.Put(r)
	if err != nil {
		h.g.count(RefusedStore)
		return pk, packets.ErrImplementationSpecificError
	}
	if dup {
		h.g.duplicates.Add(1)
		return pk, packets.CodeSuccessIgnore // acknowledged again, stored once
	}
	if h.g.cfg.Client != nil { // kept until anchored: a gateway that does not anchor keeps none
		t, _ := time.Parse(time.RFC3339Nano, r.Effective)
		h.g.mu.Lock()
		if len(h.g.measured) < latencyWindow { // a chain down for long: the latencies skip what came meanwhile
			h.g.measured[seq] = t
		}
		h.g.mu.Unlock()
	}
	return pk, packets.CodeSuccessIgnore // stored; nobody subscribes
}
