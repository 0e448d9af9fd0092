package fl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// PendingStore keeps a hospital's committed updates until it reveals them.
type PendingStore interface {
	// Put keeps update for (task, round); it must be durable when Put returns
	// if the store is to survive a restart.
	Put(task uint64, round uint32, update []byte) error
	// Get returns the update, or nil if there is none.
	Get(task uint64, round uint32) ([]byte, error)
	// Delete forgets it.
	Delete(task uint64, round uint32) error
}

// MemPending is a PendingStore in memory.
type MemPending struct {
	mu sync.Mutex
	m  map[[2]uint64][]byte
}

// NewMemPending returns an empty in-memory store.
func NewMemPending() *MemPending { return &MemPending{m: map[[2]uint64][]byte{}} }

func (p *MemPending) Put(task uint64, round uint32, update []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[[2]uint64{task, uint64(round)}] = append([]byte(nil), update...)
	return nil
}

func (p *MemPending) Get(task uint64, round uint32) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[[2]uint64{task, uint64(round)}], nil
}

func (p *MemPending) Delete(task uint64, round uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, [2]uint64{task, uint64(round)})
	return nil
}

// DirPending is a PendingStore in a folder: one file per (task, round),
// written to a temporary name, synced, then renamed, so a crash leaves
// either the whole update or none.
type DirPending string

func (d DirPending) path(task uint64, round uint32) string {
	return filepath.Join(string(d), fmt.Sprintf("task%d-round%d.update", task, round))
}

func (d DirPending) Put(task uint64, round uint32, update []byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	p := d.path(task, round)
	f, err := os.CreateTemp(string(d), ".pending-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(update); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p)
}

func (d DirPending) Get(task uint64, round uint32) ([]byte, error) {
	b, err := os.ReadFile(d.path(task, round))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (d DirPending) Delete(task uint64, round uint32) error {
	err := os.Remove(d.path(task, round))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
