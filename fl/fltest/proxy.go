package fltest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// A Lie says how a LyingProxy alters a node's answers.
type Lie int

const (
	// Honest forwards everything unchanged.
	Honest Lie = iota
	// ForgeValue flips a bit of every abci_query answer's value and keeps
	// the node's proof: a record the chain never committed.
	ForgeValue
	// DropProof forges the value as ForgeValue does and removes the proof.
	DropProof
	// OtherQuery asks the node Path in place of every abci_query it is
	// given: a true, proven answer to another question.
	OtherQuery
	// ForgeAppHash flips a bit of the app hash in every header the node
	// serves (commit, block), as a node would to vouch for a forged state.
	ForgeAppHash
)

// LyingProxy is an HTTP server in front of a node's JSON-RPC that tells
// the Lie it is set to. Close it when done.
type LyingProxy struct {
	*httptest.Server
	lie    atomic.Int32
	target string
	// Path is what OtherQuery asks instead.
	Path string
	// Lies counts the answers the proxy altered.
	Lies atomic.Int64
}

// NewLyingProxy starts a proxy to the node at target (http://host:port).
func NewLyingProxy(target string, lie Lie) *LyingProxy {
	p := &LyingProxy{target: strings.TrimSuffix(target, "/")}
	p.lie.Store(int32(lie))
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// Set changes the lie told from now on.
func (p *LyingProxy) Set(l Lie) { p.lie.Store(int32(l)) }

type rpcRequest struct {
	JSONRPC string                     `json:"jsonrpc"`
	ID      json.RawMessage            `json:"id"`
	Method  string                     `json:"method"`
	Params  map[string]json.RawMessage `json:"params"`
}

func (p *LyingProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	lie := Lie(p.lie.Load())
	var req rpcRequest
	isQuery := json.Unmarshal(body, &req) == nil && req.Method == "abci_query"
	if isQuery && lie == OtherQuery && p.Path != "" {
		req.Params["path"], _ = json.Marshal(p.Path)
		body, _ = json.Marshal(req)
		p.Lies.Add(1)
	}
	resp, err := http.Post(p.target+r.URL.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	switch {
	case isQuery && (lie == ForgeValue || lie == DropProof):
		out = p.alter(out, func(res map[string]any) {
			q, _ := res["response"].(map[string]any)
			if v, ok := q["value"].(string); ok && v != "" {
				q["value"] = flipBase64(v)
				if lie == DropProof {
					delete(q, "proofOps")
				}
			}
		})
	case (req.Method == "commit" || req.Method == "block") && lie == ForgeAppHash:
		out = p.alter(out, func(res map[string]any) {
			for _, h := range []any{dig(res, "signed_header", "header"), dig(res, "block", "header")} {
				if hdr, ok := h.(map[string]any); ok {
					if a, ok := hdr["app_hash"].(string); ok && len(a) > 0 {
						hdr["app_hash"] = flipHex(a)
					}
				}
			}
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// alter applies f to the result of a JSON-RPC response.
func (p *LyingProxy) alter(out []byte, f func(map[string]any)) []byte {
	var msg map[string]any
	if json.Unmarshal(out, &msg) != nil {
		return out
	}
	res, ok := msg["result"].(map[string]any)
	if !ok {
		return out
	}
	f(res)
	bz, err := json.Marshal(msg)
	if err != nil {
		return out
	}
	p.Lies.Add(1)
	return bz
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// flipBase64 flips the low bit of the last byte a base64 string encodes.
func flipBase64(s string) string {
	b, err := base64Std.DecodeString(s)
	if err != nil || len(b) == 0 {
		return s
	}
	b[len(b)-1] ^= 1
	return base64Std.EncodeToString(b)
}

// flipHex changes the last hex digit of s.
func flipHex(s string) string {
	last := s[len(s)-1]
	n := byte('0')
	if last == '0' {
		n = '1'
	}
	return s[:len(s)-1] + string(n)
}

var base64Std = base64.StdEncoding
