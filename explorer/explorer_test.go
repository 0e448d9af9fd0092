package explorer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/explorer"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/fltest"
	"github.com/fedledger/fedledger/fl/sim"
)

func get(t *testing.T, url string, out any) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bz, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(bz, out); err != nil {
			t.Fatalf("GET %s: %d, not JSON: %s", url, resp.StatusCode, bz)
		}
	}
	return resp.StatusCode, resp.Header
}

// TestExplorerAPI runs a 2-round task on a real one-validator network and
// asks the explorer's API what a page would: through a light client the
// model hashes are verified; without a trust root they are shown as not
// verified and why; through a node that forges its answers they fail; and
// every bad request gets its status and a message.
func TestExplorerAPI(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Data, cfg.Rounds, cfg.Validators = datasets.Synthetic(3), 2, 1
	var checked bool
	cfg.Hold = func(ctx context.Context, net *localnet.Network, _ *sim.Report) error {
		checked = true
		verified, doc, err := sim.VerifiedClient(ctx, net)
		if err != nil {
			return err
		}
		node := net.Nodes()[0].RPCAddress()
		plain, err := fl.Dial(ctx, node, nil)
		if err != nil {
			return err
		}
		// A node that forges every answer, read with the light client's
		// headers from the honest one.
		liar := fltest.NewLyingProxy(node, fltest.ForgeValue)
		defer liar.Close()
		lied, err := fl.Dial(ctx, liar.URL, nil)
		if err != nil {
			return err
		}
		lied.Verifier = verified.Verifier
		serve := func(c *fl.Client) *httptest.Server {
			ec := explorer.DefaultConfig()
			ec.Client, ec.Node, ec.Genesis = c, node, doc
			s, err := explorer.New(ec)
			if err != nil {
				t.Fatal(err)
			}
			return httptest.NewServer(s)
		}
		v, p, l := serve(verified), serve(plain), serve(lied)
		defer v.Close()
		defer p.Close()
		defer l.Close()

		var st explorer.Status
		if code, h := get(t, v.URL+"/api/status", &st); code != 200 || !st.Verified || st.ChainID == "" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("status: %d %+v", code, st)
		}
		for round := uint32(0); round <= 2; round++ {
			var ver explorer.Verification
			if code, _ := get(t, v.URL+"/api/tasks/1/rounds/"+itoa(round)+"/verify", &ver); code != 200 || !ver.Verified || len(ver.ModelHash) != 64 || len(ver.AppHash) != 64 {
				t.Errorf("round %d through a light client: %d %+v", round, code, ver)
			}
			if code, _ := get(t, p.URL+"/api/tasks/1/rounds/"+itoa(round)+"/verify", &ver); code != 200 || ver.Verified || !strings.Contains(ver.Problem, "no trust root") {
				t.Errorf("round %d without a trust root: %d %+v", round, code, ver)
			}
			if code, _ := get(t, l.URL+"/api/tasks/1/rounds/"+itoa(round)+"/verify", &ver); code != 200 || ver.Verified || !strings.Contains(ver.Problem, "not what the chain committed") {
				t.Errorf("round %d through a forging node: %d %+v", round, code, ver)
			}
		}
		var mf fl.ModelFile
		if code, h := get(t, v.URL+"/api/tasks/1/rounds/2/model", &mf); code != 200 || !mf.Verified || mf.Round != 2 || !strings.Contains(h.Get("Content-Disposition"), "task-1-round-2-model-") {
			t.Errorf("model download: %d %+v", code, mf.Round)
		}
		for _, c := range []struct {
			path string
			code int
			says string
		}{
			{"/api/tasks/x", 400, "want a task number"},
			{"/api/tasks/0", 400, "want a task number"},
			{"/api/tasks/9", 404, "not found"},
			{"/api/tasks/1/rounds/x/verify", 400, "want a round number"},
			{"/api/tasks/1/rounds/9/model", 404, "no model of round 9"},
			{"/api/tasks/1/rounds/9/verify", 404, "not found"},
			{"/api/audits/3", 404, "no audit"},
		} {
			var e struct{ Error string }
			if code, _ := get(t, v.URL+c.path, &e); code != c.code || !strings.Contains(e.Error, c.says) {
				t.Errorf("GET %s: %d %q; want %d and %q", c.path, code, e.Error, c.code, c.says)
			}
		}
		resp, err := http.Post(v.URL+"/api/tasks/1/audit", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("audit without a node to replay from: %d", resp.StatusCode)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := sim.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the checks did not run")
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
