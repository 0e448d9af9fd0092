package fl

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// KeyFile is a participant's key on disk (JSON, mode 0600): its name, role
// and ed25519 key pair.
type KeyFile struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	PubKey  []byte `json:"pub_key"`
	PrivKey []byte `json:"priv_key"`
}

// WriteKeyFile writes key to path, creating its folder; it refuses to
// overwrite an existing file.
func WriteKeyFile(path, name, role string, key ed25519.PrivateKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	bz, err := json.MarshalIndent(KeyFile{Name: name, Role: role, PubKey: key.Public().(ed25519.PublicKey), PrivKey: key}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("fl: key file: %w", err)
	}
	if _, err := f.Write(append(bz, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// ReadKeyFile reads a key file and checks that its keys match.
func ReadKeyFile(path string) (*KeyFile, ed25519.PrivateKey, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("fl: key file: %w", err)
	}
	var kf KeyFile
	if err := json.Unmarshal(bz, &kf); err != nil {
		return nil, nil, fmt.Errorf("fl: key file %s: %v", path, err)
	}
	if len(kf.PrivKey) != ed25519.PrivateKeySize {
		return nil, nil, fmt.Errorf("fl: key file %s: priv_key has %d bytes, want %d", path, len(kf.PrivKey), ed25519.PrivateKeySize)
	}
	key := ed25519.PrivateKey(kf.PrivKey)
	if !key.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(kf.PubKey)) {
		return nil, nil, fmt.Errorf("fl: key file %s: pub_key does not belong to priv_key", path)
	}
	return &kf, key, nil
}

// PubKeyFile is a participant's public key as it travels to whoever
// writes the network's genesis (fedledger keys init writes it, testnet
// --from-pubkeys reads it): no private part.
type PubKeyFile struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	PubKey []byte `json:"pub_key"`
}

// ReadPubKeyFile reads a public key file and checks its key's length.
func ReadPubKeyFile(path string) (*PubKeyFile, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fl: public key file: %w", err)
	}
	var p PubKeyFile
	if err := json.Unmarshal(bz, &p); err != nil {
		return nil, fmt.Errorf("fl: public key file %s: %v", path, err)
	}
	if len(p.PubKey) != ed25519.PublicKeySize || p.Name == "" {
		return nil, fmt.Errorf("fl: public key file %s: want a name and a %d-byte pub_key", path, ed25519.PublicKeySize)
	}
	return &p, nil
}
