package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/gateway"
	"github.com/fedledger/fedledger/gateway/gatewaybench"
)

const gatewayHelp = `A hospital's vital-signs gateway. Bedside devices connect over MQTT (3.1.1
or 5) with their own credential and publish FHIR vital-signs Observations
(LOINC-coded, UCUM units) to vitals/<device id>. The gateway checks each
reading (code, unit, physical range, time, the device it names),
pseudonymises it (patient and device as HMAC-SHA256 keyed hashes under the
key in <store>/pseudonym.key, times shifted by a per-patient offset,
identifiers dropped), stores it with a synced write before it acknowledges
it (QoS 1: an acknowledged reading survives a kill -9), stores a resent
reading once, and anchors what arrived every --anchor-interval in the
hospital's record log on chain. Refusals are counted by reason.

device add makes credentials (the secrets are printed once; the devices
file keeps their hashes); status prints what a running gateway counts;
export writes a de-identified data set of the anchored readings (no dates,
identifiers or devices; ages generalised, 90+ as Safe Harbor asks) and
refuses to write one below the k-anonymity the hospital sets.

Examples:
  fedledger gateway device add --devices ./gw/devices.json --id monitor-1 --id monitor-2
  fedledger gateway device add --devices ./gw/devices.json --count 300 --prefix bed- --credentials-out ./sim-creds.json
  fedledger gateway serve --home ./net/keys/north --node http://127.0.0.1:26657 --store ./gw/store --devices ./gw/devices.json
  fedledger gateway status --status http://127.0.0.1:1884
  fedledger gateway export --store ./gw/store --out ./share --k 5 --patients ./patients.csv --with-proofs`

func newGatewayCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(gatewayHelp, "\nExamples:\n")
	cmd := group("gateway", "Take vital signs from bedside devices over MQTT, pseudonymised and anchored", strings.TrimSpace(long), strings.TrimRight(example, "\n"),
		"name a subcommand: fedledger gateway serve|status|export|device add")
	device := group("device", "Manage device credentials", "Manage the gateway's device credentials.", "  fedledger gateway device add --devices ./gw/devices.json --id monitor-1",
		"name a subcommand: fedledger gateway device add")
	device.AddCommand(newGatewayDeviceAddCmd(g))
	cmd.AddCommand(newGatewayServeCmd(g), newGatewayStatusCmd(g), newGatewayExportCmd(g), device)
	return cmd
}

func newGatewayServeCmd(g *globals) *cobra.Command {
	cmd := leaf("serve", "Run the gateway: MQTT for the devices, anchoring on chain", gatewayHelp)
	fs := cmd.Flags()
	store := fs.String("store", "", "the gateway's store folder (readings, pseudonym key)")
	devFile := fs.String("devices", "", "the devices file (gateway device add writes it)")
	listen := fs.String("listen", "127.0.0.1:1883", "MQTT address for the devices")
	statusListen := fs.String("status-listen", "127.0.0.1:1884", "HTTP address of GET /status (empty: none)")
	interval := fs.Duration("anchor-interval", gateway.DefaultConfig().AnchorInterval, "how often to anchor what arrived")
	verbose := fs.BoolP("verbose", "v", false, "log every anchor transaction")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *store == "" || *devFile == "" {
			return usagef("--home (the hospital's key), --store and --devices are required")
		}
		devs, err := gateway.ReadDevices(*devFile)
		if err != nil {
			return err
		}
		if len(devs) == 0 {
			return usagef("--devices %s lists no device: add some with 'fedledger gateway device add'", *devFile)
		}
		key, err := gateway.LoadKey(*store)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		c, err := dialRecords(dctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", *listen, err)
		}
		cfg := gateway.DefaultConfig()
		cfg.Listener, cfg.Dir, cfg.Devices, cfg.Key, cfg.Client, cfg.AnchorInterval = ln, filepath.Join(*store, "db"), devs, key, c, *interval
		level := slog.LevelInfo
		if *verbose {
			level = slog.LevelDebug
		}
		cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
		gw, err := gateway.New(cfg)
		if err != nil {
			ln.Close()
			return err
		}
		out := progress(cmd, g)
		if *statusListen != "" {
			sl, err := net.Listen("tcp", *statusListen)
			if err != nil {
				return fmt.Errorf("--status-listen %s: %w", *statusListen, err)
			}
			hs := &http.Server{Handler: gw.StatusHandler(), ReadHeaderTimeout: 10 * time.Second}
			go hs.Serve(sl)
			defer hs.Close()
			fmt.Fprintf(out, "status on http://%s/status\n", sl.Addr())
		}
		stored, anchored := gw.Store().Counts()
		fmt.Fprintf(out, "gateway: %d devices on mqtt://%s; store %s holds %d readings, %d anchored (Ctrl-C stops)\n", len(devs), ln.Addr(), *store, stored, anchored)
		return gw.Run(ctx)
	}
	return cmd
}

func newGatewayStatusCmd(g *globals) *cobra.Command {
	cmd := leaf("status", "Print a running gateway's counts: devices, readings/s, refusals, anchoring", gatewayHelp)
	url := cmd.Flags().String("status", "http://127.0.0.1:1884", "the gateway's status address (serve --status-listen)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var st gateway.Status
		if err := getJSON(cmd.Context(), strings.TrimSuffix(*url, "/")+"/status", &st); err != nil {
			return fmt.Errorf("gateway at %s: %w (is 'fedledger gateway serve' running with --status-listen?)", *url, err)
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), st)
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "devices connected %d of %d; %.0f readings/s over the last 10 s\n", st.DevicesConnected, st.DevicesKnown, st.ReadingsPerSec)
		fmt.Fprintf(w, "stored %d, anchored %d (last anchor at height %d), resends stored once %d\n", st.Stored, st.Anchored, st.LastAnchorHeight, st.Duplicates)
		if st.LatencySamples > 0 {
			fmt.Fprintf(w, "measurement to anchored: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d readings)\n", st.AnchorLatencyP50, st.AnchorLatencyP99, st.AnchorLatencyMax, st.LatencySamples)
		}
		reasons := make([]string, 0, len(st.Refused))
		for r := range st.Refused {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(w, "refused %-16s %d\n", r, st.Refused[r])
		}
		return nil
	}
	return cmd
}

// getJSON GETs url into v, within 10 s.
func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func newGatewayDeviceAddCmd(g *globals) *cobra.Command {
	cmd := leaf("add", "Make device credentials: the secrets are printed once, their hashes kept", gatewayHelp)
	fs := cmd.Flags()
	devFile := fs.String("devices", "", "the devices file to add to (made if missing)")
	ids := fs.StringArray("id", nil, "a device id (repeatable)")
	count := fs.Int("count", 0, "or make this many, named --prefix1, --prefix2, ...")
	prefix := fs.String("prefix", "monitor-", "with --count: the ids' prefix")
	credsOut := fs.String("credentials-out", "", "also write the ids and secrets to this file (for devices simulate; keep it secret)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *devFile == "" || (len(*ids) == 0) == (*count == 0) {
			return usagef("--devices and either --id (repeatable) or --count are required")
		}
		list := *ids
		if *count < 0 || *count > 1_000_000 {
			return usagef("--count %d: want 1 to 1000000", *count)
		}
		for i := 1; i <= *count; i++ {
			list = append(list, fmt.Sprintf("%s%d", *prefix, i))
		}
		added, secrets, err := gateway.AddDevices(*devFile, list)
		if err != nil {
			return err
		}
		creds := make([]devices.Credential, len(added))
		for i := range added {
			creds[i] = devices.Credential{ID: added[i].ID, Secret: secrets[i]}
		}
		if *credsOut != "" {
			bz, _ := json.MarshalIndent(creds, "", "  ")
			if err := os.WriteFile(*credsOut, append(bz, '\n'), 0o600); err != nil {
				return err
			}
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), creds)
		}
		if len(creds) > 20 && *credsOut != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "%d devices added to %s; their secrets are in %s\n", len(creds), *devFile, *credsOut)
			return nil
		}
		for _, c := range creds {
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", c.ID, c.Secret)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%d devices added to %s; give each its secret (MQTT username = id, password = secret): it is not kept\n", len(creds), *devFile)
		return nil
	}
	return cmd
}

const devicesHelp = `Simulated bedside monitors: each connects to a gateway with its credential
and publishes, at --rate readings a second, the vital signs of a real ICU
patient's numerics record (../shared/datasets/vitals, MIMIC II), replayed
from its own offset, as FHIR Observations timed now. A reading not
acknowledged (the connection ended) is sent again, with the same id, after
reconnecting. Prints what was sent, acknowledged and refused.

Examples:
  fedledger devices simulate --broker 127.0.0.1:1883 --credentials ./sim-creds.json --data ../shared/datasets --rate 1 --seconds 60`

func newDevicesCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(devicesHelp, "\nExamples:\n")
	cmd := group("devices", "Simulated bedside monitors that replay real ICU recordings to a gateway", strings.TrimSpace(long), strings.TrimRight(example, "\n"),
		"name a subcommand: fedledger devices simulate")
	cmd.AddCommand(newDevicesSimulateCmd(g))
	return cmd
}

func newDevicesSimulateCmd(g *globals) *cobra.Command {
	cmd := leaf("simulate", "Run many simulated monitors against a gateway", devicesHelp)
	fs := cmd.Flags()
	def := devices.DefaultSimConfig()
	broker := fs.String("broker", "127.0.0.1:1883", "the gateway's MQTT address")
	creds := fs.String("credentials", "", "the devices' ids and secrets (gateway device add --credentials-out)")
	n := fs.Int("devices", 0, "how many of the credentials to use (0: all)")
	data := fs.String("data", "", "the folder that holds vitals/ (default $"+datasets.EnvData+")")
	rate := fs.Float64("rate", def.Rate, "readings a second per device")
	seconds := fs.Float64("seconds", def.Duration.Seconds(), "how long to send")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *creds == "" {
			return usagef("--credentials FILE is required (gateway device add --credentials-out FILE makes it)")
		}
		var list []devices.Credential
		bz, err := os.ReadFile(*creds)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(bz, &list); err != nil {
			return fmt.Errorf("--credentials %s: %v", *creds, err)
		}
		if *n > 0 {
			if *n > len(list) {
				return usagef("--devices %d: %s has %d credentials", *n, *creds, len(list))
			}
			list = list[:*n]
		}
		dir := datasets.FindDir(*data)
		recs, err := datasets.LoadVitals(dir, datasets.VitalsNumerics...)
		if err != nil {
			return err
		}
		cfg := def
		cfg.Broker, cfg.Devices, cfg.Records, cfg.Rate = *broker, list, recs, *rate
		cfg.Duration, cfg.Out = time.Duration(*seconds*float64(time.Second)), cmd.ErrOrStderr()
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		res, err := devices.Simulate(ctx, cfg)
		if err != nil && res == nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%d devices, %.0f s: %d readings sent, %d acknowledged (p50 %.1f ms, p99 %.1f ms), %d resent, %d unacknowledged\n",
			res.Devices, res.Seconds, res.Sent, res.Acked, res.AckP50ms, res.AckP99ms, res.Resent, res.Unacked)
		for k, v := range res.Refused {
			fmt.Fprintf(cmd.OutOrStdout(), "refused %s: %d\n", k, v)
		}
		return nil
	}
	return cmd
}

const benchGatewayHelp = `Measures the vital-signs gateway end to end on this machine: an in-process
network of --validators CometBFT validators, the gateway as a process of its
own (this binary's 'gateway serve'), and --devices simulated bedside monitors
replaying the ICU recordings at --rate readings a second each for --seconds.
Reports readings sent, acknowledged, stored (count in = count stored) and
anchored, lost (acknowledged but not stored: must be 0), readings/s, the
acknowledgement latency and the latency from publish to anchored in a
committed block (p50, p99, max). With --kill the gateway gets a SIGKILL
halfway and is restarted at once on the same store; the monitors reconnect
and resend what was not acknowledged.

Examples:
  fedledger bench gateway --devices 10000 --rate 1 --seconds 60 --output json
  fedledger bench gateway --devices 10000 --rate 1 --seconds 60 --kill --output json
  fedledger bench gateway --devices 200 --seconds 10`

func newBenchGatewayCmd(g *globals) *cobra.Command {
	cmd := leaf("gateway", "Readings/s and publish-to-anchored latency of the vital-signs gateway, with or without a kill -9", benchGatewayHelp)
	fs := cmd.Flags()
	def := gatewaybench.DefaultConfig()
	fs.IntVar(&def.Devices, "devices", def.Devices, "simulated monitors")
	fs.Float64Var(&def.Rate, "rate", def.Rate, "readings a second per monitor")
	seconds := fs.Float64("seconds", def.Duration.Seconds(), "how long the monitors send")
	fs.IntVar(&def.Validators, "validators", def.Validators, "CometBFT validators")
	fs.BoolVar(&def.Kill, "kill", false, "SIGKILL the gateway halfway and restart it")
	data := fs.String("data", "", "the folder that holds vitals/ (default $"+datasets.EnvData+")")
	keep := fs.String("dir", "", "work folder to keep (chain, store, gateway.log); default: a temporary one, removed")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg := def
		cfg.Duration, cfg.Data, cfg.Out = time.Duration(*seconds*float64(time.Second)), *data, progress(cmd, g)
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Command = func(args ...string) *exec.Cmd { return exec.Command(self, args...) }
		dir := *keep
		if dir == "" {
			if dir, err = os.MkdirTemp("", "fedledger-bench-gateway-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return usagef("--dir %s is not empty", dir)
		}
		cfg.Dir = dir
		if err := cfg.Validate(); err != nil {
			return usagef("%v", err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		res, err := gatewaybench.Run(ctx, cfg)
		if err != nil {
			return err
		}
		if g.json() {
			if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
				return err
			}
		} else {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d devices at %g Hz for %.0f s, %d validators, %d gateway kills\n", res.Devices, res.Rate, res.Seconds, res.Validators, res.Kills)
			fmt.Fprintf(w, "readings: %d sent, %d acknowledged, %d stored, %d anchored, %d lost, %d unacknowledged, %d resent (%d stored once)\n",
				res.Sent, res.Acked, res.Stored, res.Anchored, res.Lost, res.Unacked, res.Resent, res.Duplicates)
			fmt.Fprintf(w, "%.0f readings/s stored; acknowledgement p50 %.1f ms, p99 %.1f ms\n", res.ReadingsSec, res.AckP50ms, res.AckP99ms)
			fmt.Fprintf(w, "publish to anchored: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d readings)\n", res.AnchorP50ms, res.AnchorP99ms, res.AnchorMaxms, res.AnchorSamples)
		}
		if res.Lost > 0 || res.Unacked > 0 {
			return fmt.Errorf("%d acknowledged readings lost, %d never acknowledged", res.Lost, res.Unacked)
		}
		return nil
	}
	return cmd
}

func newGatewayExportCmd(g *globals) *cobra.Command {
	cmd := leaf("export", "Write a de-identified data set of the anchored readings, refused below k-anonymity", gatewayHelp)
	fs := cmd.Flags()
	def := gateway.DefaultExportOptions()
	store := fs.String("store", "", "the gateway's store folder (the gateway must be stopped)")
	out := fs.String("out", "", "folder to write readings.csv, manifest.json (and proofs.jsonl) to")
	fs.IntVar(&def.K, "k", def.K, "every class of patients with the same kept quasi-identifiers must have at least k patients")
	patients := fs.String("patients", "", "CSV of patient,age,sex (the ids the devices send): keep an age band and sex")
	fs.IntVar(&def.AgeBand, "age-band", def.AgeBand, "width of the age bands in years (ages over 89 are always 90+)")
	fs.BoolVar(&def.WithProofs, "with-proofs", false, "also write each reading as stored (shifted dates, nonce) with its leaf index, to check against the chain; share only under a grant")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *store == "" || *out == "" {
			return usagef("--store and --out are required")
		}
		if def.K < 1 {
			return usagef("--k %d: want at least 1", def.K)
		}
		opts := def
		if *patients != "" {
			var err error
			if opts.Patients, err = readPatients(*patients); err != nil {
				return err
			}
		}
		key, err := gateway.LoadKey(*store)
		if err != nil {
			return err
		}
		p, err := gateway.NewPseudonymizer(key)
		if err != nil {
			return err
		}
		st, err := gateway.OpenStore(filepath.Join(*store, "db"), p)
		if err != nil {
			return fmt.Errorf("%w (stop the gateway first: its store is open)", err)
		}
		defer st.Close()
		sum, err := st.Export(*out, opts)
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), sum)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%d readings of %d patients written to %s (%s); k-anonymity %d (required %d)", sum.Readings, sum.Patients, *out, strings.Join(sum.Files, ", "), sum.KAchieved, sum.K)
		if sum.Unanchored > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "; %d readings not anchored yet were left out", sum.Unanchored)
		}
		fmt.Fprintln(cmd.OutOrStdout())
		return nil
	}
	return cmd
}

// readPatients reads a CSV of patient,age,sex with a header row.
func readPatients(path string) (map[string]gateway.Demographics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("--patients %s: %v", path, err)
	}
	if len(rows) == 0 || len(rows[0]) < 3 || !strings.EqualFold(rows[0][0], "patient") {
		return nil, fmt.Errorf("--patients %s: want a header row patient,age,sex", path)
	}
	out := map[string]gateway.Demographics{}
	for i, r := range rows[1:] {
		age := -1
		if strings.TrimSpace(r[1]) != "" {
			if age, err = strconv.Atoi(strings.TrimSpace(r[1])); err != nil || age < 0 || age > 130 {
				return nil, fmt.Errorf("--patients %s: row %d: age %q is not a number of years", path, i+2, r[1])
			}
		}
		out[r[0]] = gateway.Demographics{Age: age, Sex: r[2]}
	}
	return out, nil
}
