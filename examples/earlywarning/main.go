// Command earlywarning trains an early-warning classifier on windows of
// bedside vital signs across hospitals' gateways, through the chain's
// rounds like any fedledger task.
//
// Each hospital's gateway stores a monitor's readings (checked,
// pseudonymised, date-shifted, as it stores any device's); from its own
// store each hospital makes rows of 30-minute windows of heart rate,
// respiration and SpO2, labelled 1 when the patient's NEWS2 score has a
// red parameter (a score of 3) in the hour after the window (the Royal
// College of Physicians' thresholds, not fitted to these data); the
// earlier 70 % of each stay trains, the rest tests. The hospitals then
// train a logistic regression together through a 4-validator CometBFT
// network, and each scores the final model on its own test rows.
//
// The recordings hold two ICU patients (MIMIC II); the 72-minute one is
// too short for an hour's horizon, so the two hospitals here hold the two
// halves of the 32-hour stay. That shows the pipeline end to end; it is no
// clinical result, and the figures say how little a table this small
// supports.
//
//	go run ./examples/earlywarning [--data ../shared/datasets]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/devices"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	"github.com/fedledger/fedledger/gateway"
)

func main() {
	data := flag.String("data", "", "the folder that holds vitals/ (default $"+datasets.EnvData+" or ../shared/datasets)")
	rounds := flag.Int("rounds", 15, "training rounds")
	flag.Parse()
	if err := run(*data, *rounds); err != nil {
		log.Fatal(err)
	}
}

func run(data string, rounds int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	recs, err := datasets.LoadVitals(datasets.FindDir(data), "s00001-2896-10-10-00-31n")
	if err != nil {
		return err
	}
	rec := recs[0]
	tmp, err := os.MkdirTemp("", "fedledger-earlywarning-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	half := rec.Samples / 2
	fed := &datasets.Federation{Name: "icu-early-warning", Features: gateway.WindowFeatures}
	for i, name := range []string{"north", "south"} {
		h, err := hospital(filepath.Join(tmp, name), name, rec, i*half, half)
		if err != nil {
			return err
		}
		fmt.Printf("%-6s gateway: %d minutes of one stay; %d training windows (%d positive), %d test windows (%d positive)\n",
			name, half, h.Train.Len(), h.Train.Positives(), h.Test.Len(), h.Test.Positives())
		datasets.Standardize(h.Train, h.Test) // each hospital scales with its own training rows
		fed.Hospitals = append(fed.Hospitals, h)
	}

	cfg := sim.DefaultConfig()
	cfg.Data, cfg.Rounds, cfg.Out = fed, rounds, os.Stdout
	cfg.ExportModel = filepath.Join(tmp, "model.json")
	fmt.Printf("\ntraining through a %d-validator chain, %d rounds:\n", cfg.Validators, rounds)
	if _, err := sim.Run(ctx, cfg); err != nil {
		return err
	}
	mf, err := fl.ReadModelFile(cfg.ExportModel)
	if err != nil {
		return err
	}
	fmt.Printf("\nthe final model (round %d, %s…) on each hospital's later test windows:\n", mf.Round, mf.ModelHash[:12])
	for _, h := range fed.Hospitals {
		sc, err := fl.Score(mf.Model, mf.Params, h.Test)
		if err != nil {
			return err
		}
		pos := float64(h.Test.Positives()) / float64(h.Test.Len())
		fmt.Printf("%-6s accuracy %.3f (the majority class alone: %.3f), AUC %.3f, %d windows, %d positive\n",
			h.Name, sc.Accuracy, max(pos, 1-pos), sc.AUC, h.Test.Len(), h.Test.Positives())
	}
	return nil
}

// hospital stores rows [from, from+n) of rec through a gateway store, as
// its monitor would send them (one row a minute, ending now), and makes
// the hospital's window tables from the store.
func hospital(dir, name string, rec *datasets.WFDBRecord, from, n int) (datasets.Hospital, error) {
	key, err := gateway.LoadKey(dir)
	if err != nil {
		return datasets.Hospital{}, err
	}
	p, err := gateway.NewPseudonymizer(key)
	if err != nil {
		return datasets.Hospital{}, err
	}
	st, err := gateway.OpenStore(filepath.Join(dir, "db"), p)
	if err != nil {
		return datasets.Hospital{}, err
	}
	defer st.Close()
	mon, err := devices.NewMonitor(name+"-bed-1", name+"-patient-1", rec, from)
	if err != nil {
		return datasets.Hospital{}, err
	}
	now := time.Now()
	start := now.Add(-time.Duration(n) * time.Minute)
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * time.Minute)
		for _, payload := range mon.Row(t) {
			r, err := gateway.ParseReading(payload, mon.Device, now)
			if gateway.Reason(err) != "" {
				continue // what the gateway refuses (a monitor's artefact out of range) is not stored
			}
			if err != nil {
				return datasets.Hospital{}, err
			}
			if _, _, err := st.Put(r); err != nil {
				return datasets.Hospital{}, err
			}
		}
	}
	train, test, err := st.Windows(gateway.DefaultWindowOptions())
	if err != nil {
		return datasets.Hospital{}, err
	}
	return datasets.Hospital{Name: name, Train: train, Test: test}, nil
}
