package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/gateway"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records/recordsnet"
)

// reading is a FHIR heart-rate Observation, or a blood-pressure panel
// when value < 0 (systolic 120, diastolic 80), as a device sends it.
func reading(device, id, patient string, code, unit string, value float64, at time.Time) []byte {
	r := gateway.Reading{ResourceType: "Observation", ID: id, Status: "final",
		Code:      gateway.CodeableConcept{Coding: []gateway.Coding{{System: gateway.LOINC, Code: code}}},
		Subject:   gateway.Reference{Identifier: gateway.Identifier{Value: patient}},
		Device:    gateway.Reference{Identifier: gateway.Identifier{Value: device}},
		Effective: at.UTC().Format(time.RFC3339Nano)}
	if value >= 0 {
		r.Value = &gateway.Quantity{Value: value, Code: unit}
	} else {
		for _, c := range []struct {
			code string
			v    float64
		}{{"8480-6", 120}, {"8462-4", 80}} {
			r.Component = append(r.Component, gateway.Component{Code: gateway.CodeableConcept{Coding: []gateway.Coding{{System: gateway.LOINC, Code: c.code}}},
				Value: &gateway.Quantity{Value: c.v, Code: "mm[Hg]"}})
		}
	}
	bz, _ := json.Marshal(r)
	return bz
}

// startGateway runs a gateway for north on net in dir until the returned
// stop is called; it returns the gateway and its MQTT address.
func startGateway(t *testing.T, ctx context.Context, net *recordsnet.Net, dir string, devs []gateway.Device) (*gateway.Gateway, string, func()) {
	t.Helper()
	c, err := net.Client(ctx, "north")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.DefaultConfig()
	cfg.Listener, cfg.Dir, cfg.Devices, cfg.Client = ln, dir, devs, c
	cfg.Key = bytes.Repeat([]byte{7}, 32)
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(gctx) }()
	return g, ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway stop: %v", err)
		}
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestGateway: devices publish readings; the good ones are stored once
// (a resend too), pseudonymised, anchored and proved; every kind of bad
// input is refused with its reason and counted, and nothing else is lost;
// a restarted gateway keeps its readings and still recognises resends.
func TestGateway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := recordsnet.Start(ctx, recordsnet.Config{Dir: t.TempDir(), BlockInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Stop()
	var devs []gateway.Device
	secrets := map[string]string{}
	for _, id := range []string{"monitor-1", "monitor-2"} {
		d, secret, err := gateway.NewDevice(id)
		if err != nil {
			t.Fatal(err)
		}
		devs, secrets[id] = append(devs, d), secret
	}
	dir := filepath.Join(t.TempDir(), "store")
	g, addr, stop := startGateway(t, ctx, net, dir, devs)

	m1, err := devices.Dial(ctx, addr, "monitor-1", secrets["monitor-1"])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := [][]byte{
		reading("monitor-1", "r1", "MRN-000417", "8867-4", "/min", 72, now),
		reading("monitor-1", "r2", "MRN-000417", "85354-9", "", -1, now),
		reading("monitor-1", "r3", "MRN-000417", "59408-5", "%", 97, now),
	}
	for i, p := range good {
		if err := m1.Publish(ctx, gateway.Topic("monitor-1"), p); err != nil {
			t.Fatalf("good reading %d: %v", i, err)
		}
	}
	if err := m1.Publish(ctx, gateway.Topic("monitor-1"), good[0]); err != nil { // a QoS 1 resend
		t.Fatalf("resend: %v", err)
	}
	bad := []struct {
		name, topic string
		payload     []byte
		reason      string
	}{
		{"out of range", "", reading("monitor-1", "b1", "MRN-000417", "8867-4", "/min", 999, now), gateway.RefusedRange},
		{"wrong units", "", reading("monitor-1", "b2", "MRN-000417", "8867-4", "Hz", 1.2, now), gateway.RefusedUnit},
		{"malformed", "", []byte(`{"resourceType": "Observation", "id": `), gateway.RefusedMalformed},
		{"not an Observation", "", []byte(`{"resourceType": "Patient", "id": "x"}`), gateway.RefusedMalformed},
		{"unknown code", "", reading("monitor-1", "b3", "MRN-000417", "1234-5", "/min", 50, now), gateway.RefusedCode},
		{"names another device", "", reading("monitor-2", "b4", "MRN-000417", "8867-4", "/min", 70, now), gateway.RefusedDevice},
		{"from last year", "", reading("monitor-1", "b5", "MRN-000417", "8867-4", "/min", 70, now.AddDate(-1, 0, 0)), gateway.RefusedTime},
		{"another device's topic", gateway.Topic("monitor-2"), reading("monitor-1", "b6", "MRN-000417", "8867-4", "/min", 70, now), gateway.RefusedTopic},
	}
	for _, b := range bad {
		topic := b.topic
		if topic == "" {
			topic = gateway.Topic("monitor-1")
		}
		err := m1.Publish(ctx, topic, b.payload)
		var ref *devices.RefusedError
		if !errors.As(err, &ref) {
			t.Errorf("%s: %v; want a refusal", b.name, err)
			continue
		}
		if b.reason != gateway.RefusedTopic && ref.Kind() != b.reason {
			t.Errorf("%s: refused as %q (%s); want %q", b.name, ref.Kind(), ref.Reason, b.reason)
		}
	}
	if _, err := devices.Dial(ctx, addr, "monitor-2", "not-its-secret"); !errors.Is(err, devices.ErrRefused) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := devices.Dial(ctx, addr, "monitor-9", secrets["monitor-1"]); !errors.Is(err, devices.ErrRefused) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := devices.Dial(ctx, addr, "", ""); !errors.Is(err, devices.ErrRefused) {
		t.Errorf("no credentials: %v", err)
	}
	// The good readings still go through after all of that.
	if err := m1.Publish(ctx, gateway.Topic("monitor-1"), reading("monitor-1", "r4", "MRN-000417", "9279-1", "/min", 14, now)); err != nil {
		t.Fatalf("a good reading after the bad ones: %v", err)
	}
	st := g.Status()
	want := map[string]int64{gateway.RefusedRange: 1, gateway.RefusedUnit: 1, gateway.RefusedMalformed: 2, gateway.RefusedCode: 1,
		gateway.RefusedDevice: 1, gateway.RefusedTime: 1, gateway.RefusedTopic: 1, gateway.RefusedCredentials: 3}
	if st.Stored != 4 || st.Duplicates != 1 || fmt.Sprint(st.Refused) != fmt.Sprint(want) || st.DevicesConnected != 1 || st.DevicesKnown != 2 {
		t.Errorf("status: %+v; want 4 stored, 1 duplicate, refused %v", st, want)
	}

	// Anchored within a few blocks; each stored reading proves against the
	// chain, and one altered by a digit does not.
	deadline := time.Now().Add(30 * time.Second)
	for g.Status().Anchored < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	st = g.Status()
	if st.Anchored != 4 || st.LastAnchorHeight == 0 || st.LatencySamples != 4 || st.AnchorLatencyP99 <= 0 {
		t.Fatalf("not anchored: %+v", st)
	}
	c, err := net.Client(ctx, "reviewer")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(0); seq < 4; seq++ {
		a, err := g.Store().Locate(seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gateway.Verify(ctx, c, recordsnet.Pub("north"), a); err != nil {
			t.Errorf("reading %d: %v", seq, err)
		}
		if bytes.Contains(a.Reading, []byte("MRN-000417")) || bytes.Contains(a.Reading, []byte("monitor-1")) {
			t.Errorf("reading %d keeps an identifier: %s", seq, a.Reading)
		}
		if seq == 0 {
			var s gateway.Stored
			json.Unmarshal(a.Reading, &s)
			if *s.Value != 72 || !strings.HasPrefix(s.Patient, "p-") || s.Time[11:19] != now.UTC().Format("15:04:05") {
				t.Errorf("stored: %+v", s)
			}
			altered := bytes.Replace(a.Reading, []byte(`"value":72`), []byte(`"value":73`), 1)
			if bytes.Equal(altered, a.Reading) {
				t.Fatalf("no value to alter in %s", a.Reading)
			}
			if _, err := gateway.Verify(ctx, c, recordsnet.Pub("north"), &gateway.Anchored{Reading: altered, LeafIndex: a.LeafIndex}); !errors.Is(err, protocol.ErrNotInLog) {
				t.Errorf("an altered reading: %v; want ErrNotInLog", err)
			}
		}
	}
	m1.Close()
	stop()

	// Restarted on the same store: the readings are there, and a resend of
	// one sent before the restart is still stored once.
	g2, addr2, stop2 := startGateway(t, ctx, net, dir, devs)
	defer stop2()
	m1, err = devices.Dial(ctx, addr2, "monitor-1", secrets["monitor-1"])
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	if err := m1.Publish(ctx, gateway.Topic("monitor-1"), good[1]); err != nil {
		t.Fatal(err)
	}
	if st := g2.Status(); st.Stored != 4 || st.Anchored != 4 || st.Duplicates != 1 {
		t.Errorf("after a restart: %+v", st)
	}
}
