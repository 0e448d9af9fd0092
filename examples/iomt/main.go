// Command iomt is the vital-signs gateway story in one command: a
// 4-validator in-process network; North's gateway (an MQTT broker with a
// credential per device); a few hundred simulated bedside monitors
// replaying two real ICU patients' numerics (MIMIC II) at once; the
// gateway's counts; one stored reading proved against its anchor on
// chain and an altered copy refused; bad input refused with its reason;
// then a de-identified export, refused below k = 5 when it would keep
// too few patients per age band and sex, and written once the bands are
// wider.
//
//	go run ./examples/iomt [--data ../shared/datasets] [--devices 300] [--seconds 15]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/gateway"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records/recordsnet"
)

func main() {
	data := flag.String("data", "", "the folder that holds vitals/ (default $"+datasets.EnvData+" or ../shared/datasets)")
	n := flag.Int("devices", 300, "simulated bedside monitors")
	seconds := flag.Float64("seconds", 15, "how long they send")
	flag.Parse()
	if err := run(*data, *n, time.Duration(*seconds*float64(time.Second))); err != nil {
		log.Fatal(err)
	}
}

func step(format string, a ...any) { fmt.Printf("\n== "+format+"\n", a...) }

func run(data string, n int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	recs, err := datasets.LoadVitals(datasets.FindDir(data), datasets.VitalsNumerics...)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fedledger-iomt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	step("a 4-validator CometBFT network in this process")
	nw, err := recordsnet.Start(ctx, recordsnet.Config{Dir: filepath.Join(tmp, "chain"), Validators: 4})
	if err != nil {
		return err
	}
	defer nw.Stop()
	north, err := nw.Client(ctx, "north")
	if err != nil {
		return err
	}

	step("North's gateway: %d device credentials, MQTT on loopback", n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bed-%d", i+1)
	}
	devFile := filepath.Join(tmp, "devices.json")
	added, secrets, err := gateway.AddDevices(devFile, ids)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg := gateway.DefaultConfig()
	cfg.Listener, cfg.Dir, cfg.Devices, cfg.Client = ln, filepath.Join(tmp, "store"), added, north
	if cfg.Key, err = gateway.LoadKey(tmp); err != nil {
		return err
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	gctx, stopGateway := context.WithCancel(ctx)
	defer stopGateway()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Run(gctx) }()
	fmt.Printf("gateway on mqtt://%s; each device may publish to vitals/<its id> only\n", ln.Addr())

	step("%d monitors replay the ICU recordings at 1 reading a second for %s", n, d)
	creds := make([]devices.Credential, n)
	for i := range creds {
		creds[i] = devices.Credential{ID: added[i].ID, Secret: secrets[i]}
	}
	sim := devices.DefaultSimConfig()
	sim.Broker, sim.Devices, sim.Records, sim.Duration, sim.Out, sim.ProgressEvery = ln.Addr().String(), creds, recs, d, os.Stdout, 5*time.Second
	res, err := devices.Simulate(ctx, sim)
	if err != nil {
		return err
	}
	fmt.Printf("sent %d, acknowledged %d (p50 %.1f ms, p99 %.1f ms), unacknowledged %d\n", res.Sent, res.Acked, res.AckP50ms, res.AckP99ms, res.Unacked)

	step("bad input is refused with its reason, and counted")
	mon, err := devices.Dial(ctx, ln.Addr().String(), creds[0].ID, creds[0].Secret)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	bad := map[string]string{
		"heart rate 999/min": `{"resourceType":"Observation","id":"x1","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"identifier":{"value":"patient-0"}},"device":{"identifier":{"value":"bed-1"}},"effectiveDateTime":"` + now + `","valueQuantity":{"value":999,"code":"/min"}}`,
		"SpO2 in mmHg":       `{"resourceType":"Observation","id":"x2","code":{"coding":[{"system":"http://loinc.org","code":"59408-5"}]},"subject":{"identifier":{"value":"patient-0"}},"device":{"identifier":{"value":"bed-1"}},"effectiveDateTime":"` + now + `","valueQuantity":{"value":97,"code":"mm[Hg]"}}`,
		"not JSON":           `HR=72`,
	}
	for what, payload := range bad {
		err := mon.Publish(ctx, gateway.Topic(creds[0].ID), []byte(payload))
		var ref *devices.RefusedError
		if !errors.As(err, &ref) {
			return fmt.Errorf("%s was not refused: %v", what, err)
		}
		fmt.Printf("%-20s refused: %s\n", what, ref.Reason)
	}
	if err := mon.Publish(ctx, gateway.Topic(creds[1].ID), []byte("{}")); err != nil {
		fmt.Printf("%-20s refused: %v\n", "another bed's topic", err)
	}
	mon.Close()
	if _, err := devices.Dial(ctx, ln.Addr().String(), creds[0].ID, "guessed-secret"); err != nil {
		fmt.Printf("%-20s refused: %v\n", "a wrong secret", err)
	}

	step("the gateway's counts (what 'fedledger gateway status' prints)")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st := gw.Status(); st.Anchored == st.Stored || time.Now().After(deadline) {
			break
		}
	}
	st := gw.Status()
	bz, _ := json.MarshalIndent(st, "", "  ")
	fmt.Println(string(bz))

	step("one stored reading, proved against its anchor on chain; an altered copy is not")
	reviewer, err := nw.Client(ctx, "reviewer")
	if err != nil {
		return err
	}
	a, err := gw.Store().Locate(st.Stored / 2)
	if err != nil {
		return err
	}
	fmt.Printf("reading %d as stored (pseudonymised, date-shifted):\n  %s\n", st.Stored/2, a.Reading)
	head, err := gateway.Verify(ctx, reviewer, recordsnet.Pub("north"), a)
	if err != nil {
		return err
	}
	fmt.Printf("verified: leaf %d of North's record log (size %d, anchored at height %d)\n", a.LeafIndex, head.TreeSize, a.Height)
	altered := *a
	altered.Reading = bytes.Replace(a.Reading, []byte(`"seq":`), []byte(`"seq":1`), 1)
	if _, err := gateway.Verify(ctx, reviewer, recordsnet.Pub("north"), &altered); !errors.Is(err, protocol.ErrNotInLog) {
		return fmt.Errorf("an altered reading was not caught: %v", err)
	}
	fmt.Println("an altered copy: refused, not in the log")

	step("a de-identified export for sharing, checked for k-anonymity (k = 5)")
	stopGateway()
	if err := <-gwDone; err != nil {
		return err
	}
	// Demographics the hospital holds (synthetic here: the recordings'
	// patients are two; the monitors stand for n patients).
	demo := map[string]gateway.Demographics{}
	for i := 0; i < n; i++ {
		demo[fmt.Sprintf("patient-%d", i)] = gateway.Demographics{Age: 20 + (i*37)%75, Sex: []string{"F", "M"}[i%2]}
	}
	p, err := gateway.NewPseudonymizer(cfg.Key)
	if err != nil {
		return err
	}
	store, err := gateway.OpenStore(cfg.Dir, p)
	if err != nil {
		return err
	}
	defer store.Close()
	opts := gateway.DefaultExportOptions()
	opts.WithProofs = true
	var sum *gateway.ExportSummary
	for _, band := range []int{1, 20, 0} { // by the year; 20-year bands; no demographics
		opts.Patients, opts.AgeBand = demo, band
		what := fmt.Sprintf("%d-year age bands", band)
		if band == 0 {
			opts.Patients, what = nil, "no demographics"
		}
		sum, err = store.Export(filepath.Join(tmp, "share"), opts)
		if errors.Is(err, gateway.ErrKAnonymity) {
			fmt.Printf("%s: refused, nothing written: %v\n", what, err)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d readings of %d patients written (%v), k-anonymity %d\n", what, sum.Readings, sum.Patients, sum.Files, sum.KAchieved)
		break
	}
	if sum == nil || sum.Files == nil {
		return errors.New("no export could keep k = 5")
	}
	head2, _ := os.ReadFile(filepath.Join(tmp, "share", "readings.csv"))
	lines := bytes.SplitN(head2, []byte("\n"), 4)
	fmt.Printf("readings.csv begins:\n  %s\n  %s\n  %s\n", lines[0], lines[1], lines[2])
	return nil
}
