package records

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/crypto/nacl/box"

	"github.com/fedledger/fedledger/fl"
)

// Ask is what a reader asks a record server for.
type Ask struct {
	Holder  []byte
	Record  string
	Version uint64
	Grant   uint64 // or
	Review  uint64 // a break-glass review
	Purpose string // care, research, audit; break-glass with Review
}

// NewRequest builds and signs a read request with a fresh recipient key
// and nonce; it returns the request and the recipient's private key.
func NewRequest(key ed25519.PrivateKey, a Ask) (*ReadRequest, *[32]byte, error) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	purpose := a.Purpose
	if a.Review != 0 && purpose == "" {
		purpose = "break-glass"
	}
	r := &ReadRequest{Holder: a.Holder, Record: a.Record, Version: a.Version, Grant: a.Grant, Review: a.Review,
		Purpose: purpose, Recipient: pub[:], Nonce: nonce}
	r.Sign(key)
	return r, priv, nil
}

// Post sends a signed request to a record server (base URL) and opens
// the answer with the recipient's key. A refusal comes back as *Refusal.
func Post(ctx context.Context, hc *http.Client, server string, req *ReadRequest, recipient *[32]byte) (*Delivered, error) {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+"/v1/read", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("records: record server %s: %w", server, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 2*MaxRecordBytes+1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		ref := &Refusal{Status: resp.StatusCode}
		if json.Unmarshal(out, ref) != nil || ref.Code == "" {
			return nil, fmt.Errorf("records: record server %s: %s: %s", server, resp.Status, bytes.TrimSpace(out))
		}
		return nil, ref
	}
	var pub [32]byte
	copy(pub[:], req.Recipient)
	plain, ok := box.OpenAnonymous(nil, out, &pub, recipient)
	if !ok {
		return nil, fmt.Errorf("records: the answer of %s does not open with this request's key", server)
	}
	var d Delivered
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("records: the answer of %s: %w", server, err)
	}
	return &d, nil
}

// Read asks server for a record as key and checks what it delivers
// against the chain: the content gives the leaf that is in the holder's
// log at the index the server named.
func Read(ctx context.Context, hc *http.Client, server string, key ed25519.PrivateKey, a Ask, c *fl.Client) (*Delivered, error) {
	req, priv, err := NewRequest(key, a)
	if err != nil {
		return nil, err
	}
	d, err := Post(ctx, hc, server, req, priv)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(d.Holder, a.Holder) || d.ID != a.Record {
		return nil, fmt.Errorf("records: asked %x for %q, got %x's %q", a.Holder, a.Record, d.Holder, d.ID)
	}
	if _, err := VerifyLeaf(ctx, c, d.Holder, d.Index, d.Leaf()); err != nil {
		return d, fmt.Errorf("records: the record delivered does not match the chain: %w", err)
	}
	return d, nil
}
