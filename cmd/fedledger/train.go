package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

const trainHelp = `Runs a hospital's trainer: it joins every running task it is invited to (or
only --task), and each round reads the global model from the chain, trains on
local data that never leaves this machine, commits to its update and reveals
it. Survives a restart: it picks up the current round from the chain and keeps
each committed update in DIR/pending until it is revealed, so it never
submits twice for a round.

DIR holds key.json (written by 'fedledger testnet'). Data: the UCI heart
disease split of the hospital named by --site (default: the key's name), or
the hospital's own table with --dataset csv:PATH --label COLUMN.

--node may list several nodes, comma-separated: a call that cannot reach
one goes to the next. While the nodes are down or the network makes no
blocks (it lost quorum), the trainer keeps its pending update, retries with
a growing pause (up to 10 s) and says each time what it is waiting for.

Examples:
  fedledger train --home ./net/keys/va --node http://10.0.0.1:26657,http://10.0.0.2:26657 --data ../shared/datasets
  fedledger train --home ./net/keys/cleveland --node http://127.0.0.1:26657 --data ../shared/datasets
  fedledger train --home ./h1 --node http://10.0.0.1:26657 --dataset csv:/data/patients.csv --label outcome --task 3`

func newTrainCmd(g *globals) *cobra.Command {
	cmd := leaf("train", "Run a hospital's trainer against a node", trainHelp)
	fs := cmd.Flags()
	data := fs.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+")")
	dataset := fs.String("dataset", "heart", "heart or csv:PATH")
	site := fs.String("site", "", "heart: which hospital's split to train on (default: the key's name)")
	label := fs.String("label", "", "csv: the binary label column")
	missing := fs.String("missing", "drop", "csv: drop rows with a missing feature, or impute")
	seed := fs.Uint64("seed", 42, "seed of the train/test split and of local training")
	taskID := fs.Uint64("task", 0, "join only this task and exit when it ends (default: every task, until stopped)")
	dataAnchor := fs.String("data-anchor", "", "for tasks with a data scope: INDEX:LEAF, the leaf (hex) of your record log that anchors the dataset you train on (records put prints both)")
	dataGrant := fs.Uint64("data-grant", 0, "for tasks with a data scope: your research grant to the task's creator over that dataset")
	chunkSize := fs.Int("chunk-size", fl.DefaultChunkSize, "largest reveal transaction body in bytes; larger updates are revealed in chunks (keep it below the nodes' mempool.max_tx_bytes)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		home, node := &g.home, &g.node
		if *home == "" {
			return usagef("--home DIR is required")
		}
		if *chunkSize < 1024 {
			return usagef("--chunk-size %d: want at least 1024 bytes", *chunkSize)
		}
		kf, key, err := fl.ReadKeyFile(filepath.Join(*home, "key.json"))
		if err != nil {
			return err
		}
		if kf.Role != "hospital" {
			return fmt.Errorf("%s is a %s key; a trainer needs a hospital's", kf.Name, kf.Role)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// A CSV is read with the schema of the task it trains (a task that
		// declares one): with --task, that task's; else the file as it is,
		// and again per task that declares a schema.
		var schema *pb.DataSchema
		var client *fl.Client
		if *taskID != 0 && strings.HasPrefix(*dataset, "csv:") {
			if client, err = g.dial(ctx, key, cmd.ErrOrStderr()); err != nil {
				return err
			}
			t, err := client.Task(ctx, *taskID)
			if err != nil {
				return err
			}
			schema = t.Spec.Schema
		}
		hosp, err := loadHospital(*dataset, *data, *site, kf.Name, *label, *missing, *seed, schema)
		perTask := false
		if err != nil && (errors.Is(err, datasets.ErrCSV) || *label == "") && *taskID == 0 && strings.HasPrefix(*dataset, "csv:") {
			// Watching: tasks that declare a schema read the file their way.
			perTask = true
			fmt.Fprintf(cmd.ErrOrStderr(), "fedledger train: %v; training only tasks whose schema reads it\n", err)
		} else if err != nil {
			return err
		}
		if client == nil {
			if client, err = g.dial(ctx, key, cmd.ErrOrStderr()); err != nil {
				return err
			}
		}
		var mu sync.Mutex
		// --output json: log/slog's JSON lines (time, level, msg, hospital),
		// as log processors take them; text: a time and the message.
		jsonLog := slog.New(slog.NewJSONHandler(stdout, nil)).With("hospital", kf.Name)
		logf := func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			msg := fmt.Sprintf(format, a...)
			if g.json() {
				jsonLog.Info(msg)
				return
			}
			fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), msg)
		}
		if perTask {
			logf("rows read per task; chain %s via %s", client.ChainID(), *node)
		} else {
			logf("%d training rows, %d test rows; chain %s via %s", hosp.Train.Len(), hosp.Test.Len(), client.ChainID(), *node)
		}
		client.OnWait = func(err error) { logf("waiting, will retry: %v", err) }
		anchor, err := parseDataAnchor(*dataAnchor, *dataGrant)
		if err != nil {
			return err
		}
		tr := func(hosp *datasets.Hospital) *fl.Trainer {
			return &fl.Trainer{
				Name: kf.Name, Client: client, Data: *hosp, Seed: *seed, ChunkSize: *chunkSize, DataAnchor: anchor,
				Pending: fl.DirPending(filepath.Join(*home, "pending")),
				OnEvent: func(e fl.Event) {
					switch {
					case e.Stage == "retrying":
						logf("task %d: waiting, will retry: %v", e.Task, e.Err)
					case e.Err != nil:
						logf("task %d round %d: %s: %v", e.Task, e.Round, e.Stage, e.Err)
					case e.Stage == "reported":
						logf("task %d: the final model's local test accuracy %.3f reported at height %d", e.Task, e.Metrics.Accuracy, e.Height)
					case e.Stage == "committed":
						logf("task %d round %d: committed %d bytes at height %d (global model: local test accuracy %.3f)", e.Task, e.Round, e.UpdateBytes, e.Height, e.Metrics.Accuracy)
					default:
						logf("task %d round %d: %s at height %d", e.Task, e.Round, e.Stage, e.Height)
					}
				},
			}
		}
		if *taskID != 0 {
			logf("joining task %d", *taskID)
			err := tr(hosp).Run(ctx, *taskID)
			if errors.Is(err, fl.ErrTaskCancelled) {
				logf("%v", err)
				return nil
			}
			if err != nil {
				return err
			}
			logf("task %d finished", *taskID)
			return nil
		}
		// Watch for tasks this hospital is invited to.
		joined := map[uint64]bool{}
		errc := make(chan error, 1)
		logf("waiting for tasks (Ctrl-C to stop)")
		for {
			tasks, err := client.Tasks(ctx)
			if err != nil && !errors.Is(err, fl.ErrUnavailable) {
				return err
			}
			for _, t := range tasks {
				if joined[t.Id] || t.Status != pb.TASK_STATUS_RUNNING || !isInvited(&t, client.PubKey()) {
					continue
				}
				joined[t.Id] = true
				logf("joining task %d (%s, %d rounds)", t.Id, t.Spec.Name, t.Spec.Rounds)
				h := hosp
				if t.Spec.Schema != nil && strings.HasPrefix(*dataset, "csv:") {
					if h, err = loadHospital(*dataset, *data, *site, kf.Name, *label, *missing, *seed, t.Spec.Schema); err != nil {
						logf("skipping task %d, and serving the others: its schema does not fit this hospital's table: %v", t.Id, err)
						continue
					}
					logf("task %d: %d training rows, %d test rows, read with the task's schema", t.Id, h.Train.Len(), h.Test.Len())
				}
				if h == nil {
					logf("skipping task %d, and serving the others: it declares no schema, and the table cannot be read without one", t.Id)
					continue
				}
				go func(id uint64, h *datasets.Hospital) {
					err := tr(h).Run(ctx, id)
					if errors.Is(err, fl.ErrTaskCancelled) && ctx.Err() == nil {
						logf("%v", err)
						return
					}
					if errors.Is(err, fl.ErrCannotTrain) && ctx.Err() == nil {
						logf("skipping task %d, and serving the others: %v", id, err)
						return
					}
					if err != nil && ctx.Err() == nil {
						errc <- fmt.Errorf("task %d: %w", id, err)
						return
					}
					if ctx.Err() == nil {
						logf("task %d finished", id)
					}
				}(t.Id, h)
			}
			select {
			case <-ctx.Done():
				logf("stopping")
				return nil
			case err := <-errc:
				return err
			case <-time.After(time.Second):
			}
		}
	}
	return cmd
}

func isInvited(t *pb.Task, pub []byte) bool {
	for _, h := range t.Spec.Hospitals {
		if string(h) == string(pub) {
			return true
		}
	}
	return false
}

// loadHospital loads this hospital's data.
func loadHospital(dataset, dir, site, name, label, missing string, seed uint64, schema *pb.DataSchema) (*datasets.Hospital, error) {
	if dir == "" {
		dir = os.Getenv(datasets.EnvData)
	}
	switch {
	case dataset == "heart":
		if dir == "" {
			return nil, usagef("give --data DIR (the folder holding heart-disease/) or set $%s", datasets.EnvData)
		}
		if site == "" {
			site = name
		}
		var known []string
		for _, hf := range datasets.HeartFiles {
			if hf.Hospital == site {
				return datasets.LoadHeartHospital(dir, site, seed) // its own file only
			}
			known = append(known, hf.Hospital)
		}
		return nil, usagef("no heart disease site %q (known: %s); name it with --site", site, strings.Join(known, ", "))
	case strings.HasPrefix(dataset, "csv:"):
		if label == "" && schema == nil {
			return nil, usagef("--dataset csv:PATH needs --label COLUMN (or a task whose schema names it)")
		}
		opt := datasets.CSVOptions{Label: label, Missing: missing}
		if schema != nil { // the task's: every hospital encodes alike
			opt = datasets.CSVOptions{Label: schema.Label, Positive: schema.Positive, Missing: missing, Columns: schema.Columns}
			for _, c := range schema.Categorical {
				opt.Categorical = append(opt.Categorical, datasets.Categorical{Column: c.Column, Levels: c.Levels})
			}
		}
		d, err := datasets.LoadCSV(strings.TrimPrefix(dataset, "csv:"), opt)
		if err != nil {
			return nil, err
		}
		fed, err := d.Federate(datasets.Partition{Kind: "iid", Hospitals: 1}, seed)
		if err != nil {
			return nil, err
		}
		return &fed.Hospitals[0], nil
	}
	return nil, usagef("--dataset %q: want heart or csv:PATH", dataset)
}

// parseDataAnchor reads --data-anchor INDEX:LEAF with --data-grant.
func parseDataAnchor(s string, grant uint64) (*pb.DataAnchor, error) {
	if s == "" && grant == 0 {
		return nil, nil
	}
	idx, leafHex, ok := strings.Cut(s, ":")
	index, err := strconv.ParseUint(idx, 10, 64)
	leaf, herr := hex.DecodeString(leafHex)
	if !ok || err != nil || herr != nil || len(leaf) != 32 || grant == 0 {
		return nil, usagef("--data-anchor is INDEX:LEAF (a 64-digit hex leaf, as records put prints it) and needs --data-grant N, not %q and %d", s, grant)
	}
	return &pb.DataAnchor{Index: index, Leaf: leaf, GrantId: grant}, nil
}
