package records

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble"
	"golang.org/x/crypto/chacha20poly1305"
)

// Errors of the store.
var (
	ErrUnknownRecord = errors.New("unknown record")
	ErrErased        = errors.New("record erased")
)

// Entry is what the store keeps in the clear about one record version.
type Entry struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	// Ref is the record's reference (Ref); Patient its patient's
	// pseudonym (empty if none was given); Dataset the dataset it is in.
	Ref     []byte `json:"ref"`
	Patient []byte `json:"patient,omitempty"`
	Dataset string `json:"dataset,omitempty"`
	JSON    bool   `json:"json"`
	Leaf    []byte `json:"leaf"`
	// Anchored is set once the leaf is in the hospital's log, at Index,
	// by the block at Height.
	Anchored bool   `json:"anchored"`
	Index    uint64 `json:"index"`
	Height   int64  `json:"height"`
	Erased   bool   `json:"erased,omitempty"`
}

// PutOptions describe a record being stored.
type PutOptions struct {
	Patient string // the patient's id at this hospital (kept only as a pseudonym)
	Dataset string // the dataset the record belongs to
	JSON    bool   // a FHIR JSON resource or bundle: canonicalised
}

// Store is a hospital's record store: an embedded Pebble database whose
// record contents and keys are encrypted at rest. Safe for concurrent use.
type Store struct {
	dir    string
	db     *pebble.DB
	master []byte
	holder []byte
	mu     sync.Mutex // orders puts (versions) and request marks
}

// MasterKeyFile is the master key's file in a store's folder.
const MasterKeyFile = "master.key"

// Open opens (creating if needed) the store in dir for the hospital whose
// public key is holder. The master key is dir/master.key, made on first
// use; keep it out of backups of the database.
func Open(dir string, holder []byte) (*Store, error) {
	if len(holder) != 32 {
		return nil, fmt.Errorf("records: the holder's key is %d bytes, want a 32-byte public key", len(holder))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	master, err := LoadOrCreateKey(filepath.Join(dir, MasterKeyFile))
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{Logger: quiet{}})
	if err != nil && strings.Contains(err.Error(), "lock") {
		return nil, fmt.Errorf("records: the store at %s is open in another process (a running records serve?): stop it first: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("records: open store at %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{dir: dir, db: db, master: master, holder: bytes.Clone(holder)}, nil
}

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// LoadOrCreateKey reads the 32-byte key in the file at path, or makes one
// (random, mode 0600) if there is none; two processes racing to make it
// end with one key (the file is created exclusively).
func LoadOrCreateKey(path string) ([]byte, error) {
	k, err := os.ReadFile(path)
	if err == nil {
		if len(k) != 32 {
			return nil, fmt.Errorf("records: %s holds %d bytes, not a 32-byte key", path, len(k))
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(k); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Holder is the hospital's public key.
func (s *Store) Holder() []byte { return s.holder }

// Pseudonym is a patient's pseudonym at this hospital.
func (s *Store) Pseudonym(patient string) []byte { return Pseudonym(s.master, patient) }

func versionKey(prefix, id string, v uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefix+id+"\x00"), v)
}

func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func seal(key, plain []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func open(key, sealed []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
}

// latest is the record's last version, 0 if it has none.
func (s *Store) latest(id string) (uint64, error) {
	v, err := s.get([]byte("v/" + id))
	if err != nil || v == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// Put stores a new version of record id and returns its entry, not yet
// anchored (see Anchor). A malformed record is refused with ErrMalformed
// and nothing is written.
func (s *Store) Put(id string, data []byte, o PutOptions) (*Entry, error) {
	if id == "" || len(id) > 256 {
		return nil, fmt.Errorf("%w: a record id is 1 to 256 bytes", ErrMalformed)
	}
	content, err := Canonical(data, o.JSON)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := s.latest(id)
	if err != nil {
		return nil, err
	}
	e := &Entry{ID: id, Version: last + 1, Ref: Ref(s.holder, id), Dataset: o.Dataset, JSON: o.JSON}
	if o.Patient != "" {
		e.Patient = s.Pseudonym(o.Patient)
	}
	rk := make([]byte, 32)
	if _, err := rand.Read(rk); err != nil {
		return nil, err
	}
	e.Leaf = Leaf(LeafKey(rk), id, e.Version, content)
	sealedKey, err := seal(s.master, rk)
	if err != nil {
		return nil, err
	}
	sealedContent, err := seal(contentKey(rk), content)
	if err != nil {
		return nil, err
	}
	meta, _ := json.Marshal(e)
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(versionKey("m/", id, e.Version), meta, nil)
	if err := writeSynced(s.keyFile(id, e.Version), sealedKey); err != nil {
		return nil, err
	}
	_ = b.Set(versionKey("c/", id, e.Version), sealedContent, nil)
	_ = b.Set([]byte("v/"+id), binary.BigEndian.AppendUint64(nil, e.Version), nil)
	n, err := s.seq()
	if err != nil {
		return nil, err
	}
	_ = b.Set([]byte("s/pending"), binary.BigEndian.AppendUint64(nil, n), nil)
	_ = b.Set(binary.BigEndian.AppendUint64([]byte("q/"), n), versionKey("", id, e.Version), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, err
	}
	return e, nil
}

// seq is the next pending-queue number (under s.mu; Put writes it back
// in its batch).
func (s *Store) seq() (uint64, error) {
	v, err := s.get([]byte("s/pending"))
	if err != nil || len(v) != 8 {
		return 1, err
	}
	return binary.BigEndian.Uint64(v) + 1, nil
}

// Entry reads a version's entry (0: the latest).
func (s *Store) Entry(id string, version uint64) (*Entry, error) {
	if version == 0 {
		v, err := s.latest(id)
		if err != nil {
			return nil, err
		}
		version = v
	}
	meta, err := s.get(versionKey("m/", id, version))
	if err != nil {
		return nil, err
	}
	if meta == nil {
		return nil, fmt.Errorf("%w: %q version %d", ErrUnknownRecord, id, version)
	}
	var e Entry
	if err := json.Unmarshal(meta, &e); err != nil {
		return nil, fmt.Errorf("records: entry of %q: %w", id, err)
	}
	return &e, nil
}

// Content returns a version's canonical bytes and leaf key (0: latest).
func (s *Store) Content(id string, version uint64) (*Entry, []byte, []byte, error) {
	e, err := s.Entry(id, version)
	if err != nil {
		return nil, nil, nil, err
	}
	if e.Erased {
		return e, nil, nil, fmt.Errorf("%w: %q version %d", ErrErased, id, e.Version)
	}
	sk, err := os.ReadFile(s.keyFile(id, e.Version))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("records: the key of %q version %d: %w", id, e.Version, err)
	}
	rk, err := open(s.master, sk)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("records: the key of %q cannot be opened with this store's master key: %w", id, err)
	}
	sc, err := s.get(versionKey("c/", id, e.Version))
	if err != nil {
		return nil, nil, nil, err
	}
	content, err := open(contentKey(rk), sc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("records: the content of %q does not open (altered at rest?): %w", id, err)
	}
	return e, content, LeafKey(rk), nil
}

// Pending lists the entries not yet anchored, in the order they were put.
func (s *Store) Pending() ([]*Entry, [][]byte, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("q/"), UpperBound: []byte("q0")})
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	var out []*Entry
	var keys [][]byte
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) < 9 {
			continue
		}
		id := string(v[:len(v)-9])
		e, err := s.Entry(id, binary.BigEndian.Uint64(v[len(v)-8:]))
		if err != nil {
			return nil, nil, err
		}
		out, keys = append(out, e), append(keys, bytes.Clone(it.Key()))
	}
	return out, keys, it.Error()
}

// markAnchored records that entries (whose queue keys are keys) are leaves
// first, first+1, ... of the log, anchored at height.
func (s *Store) markAnchored(entries []*Entry, keys [][]byte, first uint64, height int64) error {
	b := s.db.NewBatch()
	defer b.Close()
	for i, e := range entries {
		e.Anchored, e.Index, e.Height = true, first+uint64(i), height
		meta, _ := json.Marshal(e)
		_ = b.Set(versionKey("m/", e.ID, e.Version), meta, nil)
		_ = b.Delete(keys[i], nil)
	}
	return b.Commit(pebble.Sync)
}

// keyFile is where a version's sealed record key lives: a file of its
// own, not the database, so that erasing it leaves no older copy in the
// database's tables or logs.
func (s *Store) keyFile(id string, version uint64) string {
	h := sha256.Sum256(versionKey("", id, version))
	return filepath.Join(s.dir, "keys", hex.EncodeToString(h[:])+".key")
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shred overwrites a key file with zeros, syncs it and removes it.
func shred(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := writeSynced(path, make([]byte, st.Size())); err != nil {
		return err
	}
	return os.Remove(path)
}

// Erase destroys every version's key and content of record id. Its
// entries stay (leaf, index), so the log's proofs still verify; nothing
// can open the content again.
func (s *Store) Erase(id string) error {
	last, err := s.latest(id)
	if err != nil {
		return err
	}
	if last == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownRecord, id)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for v := uint64(1); v <= last; v++ {
		e, err := s.Entry(id, v)
		if err != nil {
			return err
		}
		e.Erased = true
		meta, _ := json.Marshal(e)
		_ = b.Set(versionKey("m/", id, v), meta, nil)
		_ = b.Delete(versionKey("c/", id, v), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	for v := uint64(1); v <= last; v++ {
		if err := shred(s.keyFile(id, v)); err != nil {
			return err
		}
	}
	// Push the deletions through to the files, so that the sealed key is
	// not left in an older table or the write-ahead log.
	if err := s.db.Flush(); err != nil {
		return err
	}
	return s.db.Compact([]byte("c/"), []byte("l"), true)
}

// markRequest records a served request's hash; false if it was seen.
func (s *Store) markRequest(hash []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := append([]byte("n/"), hash...)
	v, err := s.get(k)
	if err != nil {
		return false, err
	}
	if v != nil {
		return false, nil
	}
	return true, s.db.Set(k, []byte{1}, pebble.Sync)
}
