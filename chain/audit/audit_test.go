package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/fedledger/fedledger/chain/audit"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/sim"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// tamperProxy forwards JSON-RPC to a node and lets rewrite change a result.
func tamperProxy(t *testing.T, target string, rewrite func(method string, params map[string]any, result map[string]any)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Method string         `json:"method"`
			Params map[string]any `json:"params"`
		}
		_ = json.Unmarshal(body, &req)
		resp, err := http.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		var env map[string]any
		if json.Unmarshal(out, &env) == nil {
			if res, ok := env["result"].(map[string]any); ok {
				rewrite(req.Method, req.Params, res)
				out, _ = json.Marshal(env)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}))
}

func runAudit(t *testing.T, ctx context.Context, addr string) *audit.Report {
	t.Helper()
	c, err := rpchttp.New(addr, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Run(ctx, c, 1)
	if err != nil {
		t.Fatalf("audit via %s: %v", addr, err)
	}
	return rep
}

// TestAudit runs a 3-round task, then audits it three times: against the
// node as it is (every round OK), against a node that serves one altered
// round record (round 2 fails), and against a node that serves a block with
// one altered reveal (the round of that reveal fails).
func TestAudit(t *testing.T) {
	dir := datasets.FindDir("")
	if dir == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", datasets.EnvData)
	}
	fed, err := datasets.LoadHeart(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Data = fed
	cfg.Rounds = 3
	cfg.Validators = 2
	checked := false
	cfg.AfterRound = func(ctx context.Context, r sim.RoundResult, net *localnet.Network) error {
		if r.Round != 3 {
			return nil
		}
		if err := net.Nodes()[0].WaitHeight(ctx, r.Height+2); err != nil {
			return err
		}
		node := net.Nodes()[0].RPCAddress()

		honest := runAudit(t, ctx, node)
		if !honest.OK() || len(honest.Rounds) != 3 {
			t.Errorf("honest node: %+v", honest)
		}

		lying := tamperProxy(t, node, func(method string, params, result map[string]any) {
			if method != "abci_query" || params["path"] != "/round/1/2" {
				return
			}
			resp := result["response"].(map[string]any)
			raw, _ := base64.StdEncoding.DecodeString(resp["value"].(string))
			var rd pb.Round
			if rd.Unmarshal(raw) != nil {
				return
			}
			rd.OutputModelHash[0] ^= 0xff
			bz, _ := rd.Marshal()
			resp["value"] = base64.StdEncoding.EncodeToString(bz)
		})
		defer lying.Close()
		rep := runAudit(t, ctx, lying.URL)
		if rep.OK() || !rep.Rounds[0].OK || rep.Rounds[1].OK || !strings.Contains(rep.Rounds[1].Problem, "output model hash") {
			t.Errorf("altered round record: %+v", rep.Rounds)
		}

		var tamperedAt float64
		forged := tamperProxy(t, node, func(method string, params, result map[string]any) {
			if method != "block" || tamperedAt != 0 {
				return
			}
			txs, _ := result["block"].(map[string]any)["data"].(map[string]any)["txs"].([]any)
			for i, tx := range txs {
				raw, _ := base64.StdEncoding.DecodeString(tx.(string))
				if _, msg, err := pb.DecodeTx(raw); err == nil && msg.Kind() == "reveal_update" {
					raw[len(raw)-1] ^= 1
					txs[i] = base64.StdEncoding.EncodeToString(raw)
					tamperedAt = 1
					return
				}
			}
		})
		defer forged.Close()
		rep = runAudit(t, ctx, forged.URL)
		if rep.OK() || rep.Rounds[0].OK || !strings.Contains(rep.Chain, "transactions hash") || !strings.Contains(rep.Rounds[0].Problem, "cannot be verified") {
			t.Errorf("altered reveal: chain %q rounds %+v", rep.Chain, rep.Rounds)
		}
		checked = true
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := sim.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("audits did not run")
	}
}

// TestReputationReplay: a task with attackers, validation feedback and
// lying scorers flags the attackers on chain, and an independent replay of
// the blocks recomputes exactly the stored scores (and every round's
// reputation changes, the feedback's judgments among them).
func TestReputationReplay(t *testing.T) {
	dir := datasets.FindDir("")
	if dir == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", datasets.EnvData)
	}
	fed, _, err := datasets.Source{Dataset: "wdbc", Dir: dir, Hospitals: 10, Partition: "dirichlet:1.0"}.Open(42)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.Data = fed
	cfg.Rounds = 4
	cfg.Validators = 2
	cfg.Rule, cfg.Reputation, cfg.Feedback, cfg.LyingScorers = "median", true, true, true
	cfg.Attacks = map[string]int{"sybil": 2, "sign-flip": 1}
	var rep *audit.Report
	cfg.AfterRound = func(ctx context.Context, r sim.RoundResult, net *localnet.Network) error {
		if r.Round == 4 {
			if err := net.Nodes()[1].WaitHeight(ctx, r.Height+2); err != nil {
				return err
			}
			rep = runAudit(t, ctx, net.Nodes()[1].RPCAddress())
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep == nil || !rep.OK() || rep.Reputation != "OK" {
		t.Fatalf("audit: %+v", rep)
	}
	for h, a := range res.Malicious {
		if _, ok := res.Flagged[h]; !ok {
			t.Errorf("%s (%s) was not flagged", h, a)
		}
		if a == "sign-flip" && !strings.Contains(strings.Join(res.Evidence[h], ";"), "harms:") {
			t.Errorf("%s (%s) was not judged harmful: %q", h, a, res.Evidence[h])
		}
	}
	for h := range res.Flagged {
		if _, bad := res.Malicious[h]; !bad {
			t.Errorf("honest %s was flagged", h)
		}
	}
}
