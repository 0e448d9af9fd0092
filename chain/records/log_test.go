package records

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"

	"github.com/fedledger/fedledger/chain/module"
)

// mapStore is a module.Store in a map, for the log's own tests.
type mapStore map[string][]byte

func (m mapStore) Get(k string) ([]byte, error) { return m[k], nil }
func (m mapStore) View(k string) ([]byte, func(), error) {
	return m[k], func() {}, nil
}
func (m mapStore) KeysWithPrefix(p string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, p) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
func (m mapStore) Set(k string, v []byte) { m[k] = append([]byte(nil), v...) }
func (m mapStore) Delete(k string)        { delete(m, k) }

// TestTiles: a log grown in batches of every awkward size (one leaf, a
// tile less one, across tile and stored-level boundaries) gives, at every
// size it passes, inclusion proofs of leaves all over it and consistency
// proofs from earlier sizes that transparency-dev's verifier accepts
// against the log's roots; its leaves read back; and its side keys are
// tiles, a few per batch, not nodes.
func TestTiles(t *testing.T) {
	st := module.State{Store: mapStore{}}
	l := recordLog([]byte("north"))
	leaf := func(i uint64) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
		return hasher.HashLeaf(h[:])
	}
	roots := map[uint64][]byte{0: hasher.EmptyRoot()}
	var size uint64
	for _, batch := range []int{1, 254, 1, 1, 300, 256, 65536 - 813, 2, 700, 3} {
		hashes := make([][]byte, batch)
		for i := range hashes {
			hashes[i] = leaf(size + uint64(i))
		}
		first, head, err := l.appendLeaves(st, 1, hashes)
		if err != nil || first != size || head.TreeSize != size+uint64(batch) {
			t.Fatalf("append %d at %d: %v %d %+v", batch, size, err, first, head)
		}
		size = head.TreeSize
		roots[size] = head.Root
		for _, i := range []uint64{0, 1, size / 3, size / 2, size - 2, size - 1} {
			if i >= size {
				continue
			}
			p, err := l.inclusion(st, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(hasher, i, size, leaf(i), p, head.Root); err != nil {
				t.Errorf("size %d: leaf %d: %v", size, i, err)
			}
			if got, err := LeafHash(st, []byte("north"), i); err != nil || string(got) != string(leaf(i)) {
				t.Errorf("size %d: LeafHash(%d) = %x, %v", size, i, got, err)
			}
		}
		for old, root := range roots {
			if old == 0 || old > size {
				continue
			}
			p, err := l.consistency(st, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(hasher, old, size, p, root, head.Root); err != nil {
				t.Errorf("consistency %d → %d: %v", old, size, err)
			}
		}
	}
	if got, err := LeafHash(st, []byte("north"), size); err != nil || got != nil {
		t.Errorf("a leaf past the end: %x, %v", got, err)
	}
	tiles := len(st.Store.(mapStore)) - 1 // less the head
	if want := int(size/256) + 2 + 2; tiles > want {
		t.Errorf("%d side keys for %d leaves; tiles should take about %d", tiles, size, want)
	}
}
