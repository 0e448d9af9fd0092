package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/sim"
)

func main() {
	cfg := sim.DefaultConfig()
	cfg.Rounds = 3
	cfg.Out = os.Stdout
	if dir := datasets.FindDir(""); dir != "" {
		fed, err := datasets.LoadHeart(dir, cfg.Seed)
		if err != nil {
			log.Fatal(err)
		}
		cfg.Data = fed
	} else {
		fmt.Println("no heart disease data found: using the synthetic cohort")
		cfg.Data = datasets.Synthetic(cfg.Seed)
	}
	rep, err := sim.Run(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("final mean test accuracy %.3f, model %s\n", rep.Final.MeanAccuracy, rep.Final.ModelHash[:16])
}
