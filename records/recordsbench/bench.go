package recordsbench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
	"github.com/fedledger/fedledger/records"
	"github.com/fedledger/fedledger/records/recordsnet"
)

// BenchConfig sets up `fedledger bench records`.
type BenchConfig struct {
	Dir        string // scratch folder (required)
	Validators int    // default 4
	Anchors    int    // leaves to anchor (default 200,000)
	Batch      int    // leaves per transaction (default 4,096)
	Reads      int    // grant-checked reads at the record server (default 10,000)
	Readers    int    // concurrent readers (default 256)
	Proofs     int    // inclusion proofs to verify (default 2,000)
	Progress   io.Writer
}

// DefaultBenchConfig returns the defaults.
func DefaultBenchConfig() BenchConfig {
	return BenchConfig{Validators: 4, Anchors: 200000, Batch: 4096, Reads: 10000, Readers: 256, Proofs: 2000}
}

// Validate checks the configuration.
func (c BenchConfig) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("recordsbench: bench needs a scratch folder")
	case c.Validators < 1 || c.Anchors < 1 || c.Reads < 1 || c.Readers < 1 || c.Proofs < 1:
		return fmt.Errorf("recordsbench: validators, anchors, reads, readers and proofs must be positive")
	case c.Batch < 1 || c.Batch > protocol.MaxAnchorLeaves:
		return fmt.Errorf("recordsbench: batch must be 1 to %d leaves", protocol.MaxAnchorLeaves)
	}
	return nil
}

// BenchResult is what the benchmark measured.
type BenchResult struct {
	Validators      int     `json:"validators"`
	Anchors         int     `json:"anchors"`
	Batch           int     `json:"batch"`
	AnchorSeconds   float64 `json:"anchor_seconds"`
	AnchorsPerSec   float64 `json:"anchors_per_second"`
	Blocks          int64   `json:"blocks"`
	Reads           int     `json:"reads"`
	ReadSeconds     float64 `json:"read_seconds"`
	ReadsPerSec     float64 `json:"grant_checked_reads_per_second"`
	ReadP50Millis   float64 `json:"read_p50_ms"`
	ReadP99Millis   float64 `json:"read_p99_ms"`
	Proofs          int     `json:"proofs"`
	ProofVerifyMics float64 `json:"inclusion_proof_verify_us"`
	ProofHashes     float64 `json:"inclusion_proof_hashes_mean"`
	ProofFetchMs    float64 `json:"inclusion_proof_fetch_and_verify_ms"`
}

func (c BenchConfig) say(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}

// Bench anchors cfg.Anchors leaves through a cfg.Validators-validator
// in-process network, serves cfg.Reads grant-checked reads from a record
// server, and verifies cfg.Proofs inclusion proofs.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.say("starting %d validators", cfg.Validators)
	n, err := recordsnet.Start(ctx, recordsnet.Config{Dir: filepath.Join(cfg.Dir, "chain"), Validators: cfg.Validators})
	if err != nil {
		return nil, err
	}
	defer n.Stop()
	north, err := n.Client(ctx, "north")
	if err != nil {
		return nil, err
	}
	res := &BenchResult{Validators: cfg.Validators, Anchors: cfg.Anchors, Batch: cfg.Batch, Reads: cfg.Reads, Proofs: cfg.Proofs}

	// Anchors: every transaction signed and broadcast at once, pipelined.
	var msgs []*pb.Msg
	made := make([][]byte, cfg.Anchors)
	for i := range made {
		made[i] = make([]byte, 32)
		rand.Read(made[i])
	}
	for i := 0; i < len(made); i += cfg.Batch {
		msgs = append(msgs, &pb.Msg{Sum: &pb.Msg_AnchorRecords{AnchorRecords: &pb.AnchorRecords{Leaves: made[i:min(i+cfg.Batch, len(made))]}}})
	}
	cfg.say("anchoring %d leaves in %d transactions of up to %d", cfg.Anchors, len(msgs), cfg.Batch)
	h0, _ := north.LatestHeight(ctx)
	start := time.Now()
	// A transaction the mempool dropped is sent again with a later nonce,
	// so batches may land out of order: place each where its event says.
	leaves := make([][]byte, cfg.Anchors)
	for i, r := range north.SubmitAll(ctx, msgs) {
		if r.Err != nil {
			return nil, fmt.Errorf("recordsbench: anchor: %w", r.Err)
		}
		v, ok := r.Included.Attr("records_anchored", "first")
		var first int
		if _, err := fmt.Sscan(v, &first); !ok || err != nil {
			return nil, fmt.Errorf("recordsbench: anchor %d: the node did not index its event", i)
		}
		batch := msgs[i].GetAnchorRecords().Leaves
		if first+len(batch) > len(leaves) {
			return nil, fmt.Errorf("recordsbench: anchor %d landed at %d, past the %d leaves sent", i, first, len(leaves))
		}
		copy(leaves[first:], batch)
	}
	res.AnchorSeconds = time.Since(start).Seconds()
	res.AnchorsPerSec = float64(cfg.Anchors) / res.AnchorSeconds
	h1, _ := north.LatestHeight(ctx)
	res.Blocks = h1 - h0
	head, err := records.LogHead(ctx, north, north.PubKey())
	if err != nil {
		return nil, err
	}
	if head.TreeSize != uint64(cfg.Anchors) {
		return nil, fmt.Errorf("recordsbench: the log holds %d leaves after anchoring %d", head.TreeSize, cfg.Anchors)
	}
	cfg.say("anchored %d leaves in %.2f s: %.0f/s over %d blocks", cfg.Anchors, res.AnchorSeconds, res.AnchorsPerSec, res.Blocks)

	// Inclusion proofs: fetched from a node, verified offline.
	proofs := make([][][]byte, cfg.Proofs)
	idx := make([]uint64, cfg.Proofs)
	fetch := time.Now()
	for i := range proofs {
		var b [8]byte
		rand.Read(b[:])
		idx[i] = (uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24) % head.TreeSize
		var p pb.Hashes
		if _, err := north.Query(ctx, protocol.InclusionPath(protocol.LogRecords, north.PubKey(), idx[i], head.TreeSize), &p); err != nil {
			return nil, err
		}
		proofs[i] = p.Hashes
		res.ProofHashes += float64(len(p.Hashes)) / float64(cfg.Proofs)
	}
	res.ProofFetchMs = time.Since(fetch).Seconds() * 1000 / float64(cfg.Proofs)
	verify := time.Now()
	for i := range proofs {
		if err := protocol.VerifyLeaf(head, idx[i], leaves[idx[i]], proofs[i]); err != nil {
			return nil, err
		}
	}
	res.ProofVerifyMics = time.Since(verify).Seconds() * 1e6 / float64(cfg.Proofs)
	cfg.say("inclusion proofs: %.1f µs to verify (%.1f hashes), %.2f ms to fetch from a node", res.ProofVerifyMics, res.ProofHashes, res.ProofFetchMs)

	// Grant-checked reads at a record server.
	if err := benchReads(ctx, cfg, n, north, res); err != nil {
		return nil, err
	}
	return res, nil
}

func benchReads(ctx context.Context, cfg BenchConfig, n *recordsnet.Net, north *fl.Client, res *BenchResult) error {
	dir := filepath.Join(cfg.Dir, "store")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := records.Open(dir, north.PubKey())
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Put("obs-1", []byte(`{"resourceType": "Observation", "id": "hr", "valueQuantity": {"value": 72, "unit": "/min"}}`), records.PutOptions{Dataset: "bench", JSON: true}); err != nil {
		return err
	}
	if _, err := records.Anchor(ctx, north, st); err != nil {
		return err
	}
	inc, err := north.Submit(ctx, &pb.Msg{Sum: &pb.Msg_GrantAccess{GrantAccess: &pb.GrantAccess{Grantee: recordsnet.Pub("researcher"), Kind: pb.SCOPE_DATASET, Scope: []byte("bench"), Purpose: pb.PURPOSE_RESEARCH, ExpiresHeight: 1 << 40}}})
	if err != nil {
		return err
	}
	var grant uint64
	if v, ok := inc.Attr("grant", "grant_id"); ok {
		fmt.Sscan(v, &grant)
	}
	srv, err := records.NewServer(st, north)
	if err != nil {
		return err
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	type req struct {
		r    *records.ReadRequest
		priv *[32]byte
	}
	reqs := make([]req, cfg.Reads)
	for i := range reqs {
		r, p, err := records.NewRequest(recordsnet.Key("researcher"), records.Ask{Holder: north.PubKey(), Record: "obs-1", Grant: grant, Purpose: "research"})
		if err != nil {
			return err
		}
		reqs[i] = req{r, p}
	}
	cfg.say("reading %d times from the record server, %d readers at once (each read checks its grant on chain, proved)", cfg.Reads, cfg.Readers)
	lat := make([]time.Duration, cfg.Reads)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	for w := 0; w < cfg.Readers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				_, err := records.Post(ctx, http.DefaultClient, hs.URL, reqs[i].r, reqs[i].priv)
				lat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("recordsbench: read: %w", first)
	}
	res.ReadSeconds = time.Since(start).Seconds()
	res.ReadsPerSec = float64(cfg.Reads) / res.ReadSeconds
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.ReadP50Millis = float64(lat[len(lat)/2].Microseconds()) / 1000
	res.ReadP99Millis = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	cfg.say("%d reads in %.2f s: %.0f/s, p50 %.2f ms, p99 %.2f ms", cfg.Reads, res.ReadSeconds, res.ReadsPerSec, res.ReadP50Millis, res.ReadP99Millis)
	logged, err := srv.FlushAccess(ctx)
	if err != nil {
		return err
	}
	if logged != cfg.Reads {
		return fmt.Errorf("recordsbench: logged %d access events for %d reads", logged, cfg.Reads)
	}
	return nil
}
