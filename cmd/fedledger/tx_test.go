package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTxCommands signs a message from JSON, decodes it, broadcasts the
// exact bytes and reads the effect; a refused, a tampered and a
// non-canonical transaction each exit 1 with the chain's or the decoder's
// reason.
func TestTxCommands(t *testing.T) {
	net, rpc := startTestnet(t)
	admin := filepath.Join(net, "keys", "admin")
	body := `{"update_params": {"max_chunks": "8"}}`

	code, out, errs := runIn(nil, "tx", "sign", "--home", admin, "--node", rpc, "--body", body)
	if code != 0 {
		t.Fatalf("tx sign: exit %d %s", code, errs)
	}
	txHex := strings.TrimSpace(out)
	code, out, errs = runIn(strings.NewReader(txHex), "tx", "decode", "--file", "-")
	var v struct {
		Kind        string          `json:"kind"`
		Nonce       uint64          `json:"nonce"`
		SignatureOK bool            `json:"signature_ok"`
		Msg         json.RawMessage `json:"msg"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Kind != "update_params" || v.Nonce != 1 || !v.SignatureOK || !strings.Contains(compact(v.Msg), `"max_chunks":"8"`) {
		t.Fatalf("tx decode: exit %d %s %s", code, out, errs)
	}
	if code, out, errs = runIn(nil, "tx", "broadcast", "--node", rpc, "--tx", txHex); code != 0 || !strings.Contains(out, "included in block") {
		t.Fatalf("tx broadcast: exit %d %s %s", code, out, errs)
	}
	if code, out, _ = runIn(nil, "task", "list", "--node", rpc, "--home", admin); code != 0 {
		t.Fatalf("task list after the tx: %s", out)
	}
	// The same bytes again: already included, reported as such.
	if code, out, errs = runIn(nil, "tx", "broadcast", "--node", rpc, "--tx", txHex); code != 0 {
		t.Fatalf("tx broadcast again: exit %d %s %s", code, out, errs)
	}

	// A researcher may not change the caps: the chain's code and reason.
	code, out, errs = runIn(nil, "tx", "sign", "--home", filepath.Join(net, "keys", "researcher"), "--node", rpc, "--body", body)
	if code != 0 {
		t.Fatalf("tx sign as researcher: %s", errs)
	}
	if code, _, errs = runIn(nil, "tx", "broadcast", "--node", rpc, "--tx", strings.TrimSpace(out)); code != 1 || !strings.Contains(errs, "code") || !strings.Contains(errs, "admin") {
		t.Errorf("a researcher's update_params: exit %d, stderr %q; want exit 1 with the chain's code", code, errs)
	}

	// A command that sends a tx exits 1 with the chain's reason when the
	// chain refuses it (task create used to print "task  created", exit 0).
	for _, args := range [][]string{
		{"task", "create", "--home", filepath.Join(net, "keys", "cleveland"), "--node", rpc, "--rounds", "1"},
		{"task", "create", "--home", filepath.Join(net, "keys", "researcher"), "--node", rpc, "--rounds", "20000"},
	} {
		code, out, errs := runIn(nil, args...)
		t.Logf("%v: %s", args[4:], errs)
		if code != 1 || !strings.Contains(errs, "code ") || strings.Contains(out, "created") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 with the chain's code", args[4:], code, out, errs)
		}
	}

	raw, _ := hex.DecodeString(txHex)
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-1] ^= 1 // the signature's last byte
	if code, _, errs = runIn(nil, "tx", "decode", "--tx", hex.EncodeToString(tampered)); code != 1 || !strings.Contains(errs, "signature") {
		t.Errorf("tx decode of a tampered signature: exit %d %q", code, errs)
	}
	if code, _, errs = runIn(nil, "tx", "broadcast", "--node", rpc, "--tx", hex.EncodeToString(tampered)); code != 1 || !strings.Contains(errs, "signature") {
		t.Errorf("tx broadcast of a tampered signature: exit %d %q", code, errs)
	}
	longer := append(append([]byte(nil), raw...), 0x30, 0x01) // field 6, varint 1: unknown
	if code, _, errs = runIn(nil, "tx", "decode", "--tx", hex.EncodeToString(longer)); code != 1 || !strings.Contains(errs, "canonical") {
		t.Errorf("tx decode of a non-canonical tx: exit %d %q", code, errs)
	}
	for _, bad := range [][]string{
		{"tx", "sign", "--home", admin, "--node", rpc, "--body", `{"no_such_msg": {}}`},
		{"tx", "sign", "--home", admin, "--node", rpc},
		{"tx", "decode", "--tx", "zz"},
	} {
		if code, _, errs = runIn(nil, bad...); code == 0 || errs == "" {
			t.Errorf("%v: exit %d with no error", bad, code)
		}
	}
	// Offline signing needs no node.
	if code, out, errs = runIn(nil, "tx", "sign", "--home", admin, "--node", "http://127.0.0.1:1", "--chain-id", "fedledger-testnet", "--nonce", "9", "--body", body, "-o", "json"); code != 0 || !strings.Contains(out, `"nonce": 9`) {
		t.Errorf("offline tx sign: exit %d %s %s", code, out, errs)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	json.Compact(&buf, b)
	return buf.String()
}
