package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// Store keeps the readings a gateway acknowledged, in an embedded Pebble
// database: a reading is acknowledged to its device only once the write
// that holds it is synced to disk (group commit: the writes of many
// devices share one fsync), so a gateway killed at any moment loses no
// acknowledged reading. Keys:
//
//	r/<seq>     a stored reading (canonical JSON), seq from 0 in arrival order
//	u/<hash>    SHA-256 of device and reading id → seq: a resent reading is stored once
//	b/<seq>     an anchored batch starting at seq: where its leaves are in the log
//	m/next      the next seq; m/anchored the first seq not anchored yet
type Store struct {
	db *pebble.DB
	p  *Pseudonymizer

	reqs chan *putReq
	done chan struct{}
	// closeMu lets Close wait for the Puts that are queuing; closed says
	// the queue is shut.
	closeMu sync.RWMutex
	closed  bool

	// mu guards next and anchored (the committer and the anchorer write
	// them; Stats reads them).
	mu       sync.Mutex
	next     uint64
	anchored uint64
}

// Batch is an anchored run of readings: seqs [FirstSeq, FirstSeq+Count)
// are leaves [FirstLeaf, FirstLeaf+Count) of the hospital's record log,
// appended in the block at Height.
type Batch struct {
	FirstSeq  uint64 `json:"first_seq"`
	Count     uint64 `json:"count"`
	FirstLeaf uint64 `json:"first_leaf"`
	Height    int64  `json:"height"`
}

var (
	keyNext     = []byte("m/next")
	keyAnchored = []byte("m/anchored")
)

func seqKey(prefix byte, seq uint64) []byte {
	k := make([]byte, 2, 10)
	k[0], k[1] = prefix, '/'
	return binary.BigEndian.AppendUint64(k, seq)
}

func dedupKey(device, id string) []byte {
	h := sha256.Sum256([]byte(device + "\x00" + id))
	return append([]byte("u/"), h[:]...)
}

// OpenStore opens (or creates) the store in dir.
func OpenStore(dir string, p *Pseudonymizer) (*Store, error) {
	// Bloom filters: every reading's dedup look-up is of a key that is
	// almost never there, which without a filter reads a block of every
	// table that might hold it.
	// The filters and indexes of every table stay in a block cache of
	// their own size (Pebble's default of 8 MB is too small for them past
	// a few million readings).
	cache := pebble.NewCache(64 << 20)
	defer cache.Unref()
	opts := &pebble.Options{Cache: cache, MemTableSize: 32 << 20, Logger: quiet{}}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: open store %s: %w", dir, err)
	}
	s := &Store{db: db, p: p, reqs: make(chan *putReq, 4096), done: make(chan struct{})}
	if s.next, err = s.counter(keyNext); err == nil {
		s.anchored, err = s.counter(keyAnchored)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	go s.committer()
	return s, nil
}

func (s *Store) counter(k []byte) (uint64, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("gateway: store counter %s is damaged", k)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Close writes the queued readings, stops the committer and closes the
// database; a Put after it fails with ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
	s.closeMu.Unlock()
	<-s.done
	return s.db.Close()
}

type putReq struct {
	r       *Reading
	seq     uint64
	dup     bool
	err     error
	replied chan struct{}
}

// ErrClosed is Put's error once the store is closing.
var ErrClosed = errors.New("gateway: store closed")

// Put stores a checked reading and returns its seq once it is on disk;
// dup is true when the device had sent this reading (its id) before, and
// seq is then the first copy's.
func (s *Store) Put(r *Reading) (seq uint64, dup bool, err error) {
	req := &putReq{r: r, replied: make(chan struct{})}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return 0, false, ErrClosed
	}
	s.reqs <- req
	s.closeMu.RUnlock()
	<-req.replied
	return req.seq, req.dup, req.err
}

// maxGroup bounds how many readings share one commit.
const maxGroup = 4096

// committer writes the queued readings in groups, one synced commit per
// group, and answers each.
func (s *Store) committer() {
	defer close(s.done)
	for first := range s.reqs {
		group := []*putReq{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commit(group)
	}
}

func (s *Store) commit(group []*putReq) {
	s.mu.Lock()
	next := s.next
	s.mu.Unlock()
	b := s.db.NewBatch()
	inGroup := map[string]uint64{}
	var err error
	for _, q := range group {
		dk := dedupKey(q.r.Device.Identifier.Value, q.r.ID)
		if seq, ok := inGroup[string(dk)]; ok {
			q.seq, q.dup = seq, true
			continue
		}
		v, closer, gerr := s.db.Get(dk)
		if gerr == nil {
			q.seq, q.dup = binary.BigEndian.Uint64(v), true
			closer.Close()
			continue
		}
		if !errors.Is(gerr, pebble.ErrNotFound) {
			err = gerr
			break
		}
		nonce := make([]byte, 16)
		if _, err = rand.Read(nonce); err != nil {
			break
		}
		st := s.p.Store(q.r, next, nonce)
		q.seq = next
		inGroup[string(dk)] = next
		b.Set(seqKey('r', next), st.Canonical(), nil)
		b.Set(dk, binary.BigEndian.AppendUint64(nil, next), nil)
		next++
	}
	if err == nil {
		b.Set(keyNext, binary.BigEndian.AppendUint64(nil, next), nil)
		err = b.Commit(pebble.Sync)
	}
	b.Close()
	if err == nil {
		s.mu.Lock()
		s.next = next
		s.mu.Unlock()
	}
	for _, q := range group {
		if err != nil {
			q.seq, q.dup, q.err = 0, false, fmt.Errorf("gateway: store: %w", err)
		}
		close(q.replied)
	}
}

// Get returns a stored reading by seq, as its canonical bytes.
func (s *Store) Get(seq uint64) ([]byte, error) {
	v, closer, err := s.db.Get(seqKey('r', seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("gateway: no reading %d", seq)
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Counts are how many readings the store holds and how many of them are
// anchored.
func (s *Store) Counts() (stored, anchored uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, s.anchored
}

// Unanchored returns up to max readings from the first not yet anchored,
// as canonical bytes, with the seq of the first (one iterator over the
// range: the anchorer reads tens of thousands a round).
func (s *Store) Unanchored(max int) (first uint64, readings [][]byte, err error) {
	s.mu.Lock()
	first, next := s.anchored, s.next
	s.mu.Unlock()
	readings, err = s.Range(first, min(next, first+uint64(max)))
	return first, readings, err
}

// Range returns the stored readings [from, end), as canonical bytes.
func (s *Store) Range(from, end uint64) ([][]byte, error) {
	if end <= from {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey('r', from), UpperBound: seqKey('r', end)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var readings [][]byte
	want := from
	for ok := it.First(); ok; ok = it.Next() {
		if seq := binary.BigEndian.Uint64(it.Key()[2:]); seq != want {
			return nil, fmt.Errorf("gateway: store is missing reading %d", want)
		}
		readings = append(readings, append([]byte(nil), it.Value()...))
		want++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if want != end {
		return nil, fmt.Errorf("gateway: store is missing reading %d", want)
	}
	return readings, nil
}

// MarkAnchored records an anchored batch and moves the anchored mark past
// it, in one synced write. The batch must start at the mark.
func (s *Store) MarkAnchored(bt Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bt.FirstSeq != s.anchored || bt.FirstSeq+bt.Count > s.next {
		return fmt.Errorf("gateway: batch from %d of %d does not follow the anchored mark %d", bt.FirstSeq, bt.Count, s.anchored)
	}
	bz, _ := json.Marshal(bt)
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(seqKey('b', bt.FirstSeq), bz, nil)
	b.Set(keyAnchored, binary.BigEndian.AppendUint64(nil, bt.FirstSeq+bt.Count), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	s.anchored = bt.FirstSeq + bt.Count
	return nil
}

// BatchOf is the anchored batch that holds seq.
func (s *Store) BatchOf(seq uint64) (*Batch, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("b/"), UpperBound: seqKey('b', seq+1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Last() {
		return nil, fmt.Errorf("gateway: reading %d is not anchored yet", seq)
	}
	var bt Batch
	if err := json.Unmarshal(it.Value(), &bt); err != nil {
		return nil, fmt.Errorf("gateway: batch record: %w", err)
	}
	if seq >= bt.FirstSeq+bt.Count {
		return nil, fmt.Errorf("gateway: reading %d is not anchored yet", seq)
	}
	return &bt, nil
}

// quiet drops Pebble's informational lines (WAL replay on every open);
// its errors come back as errors.
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("gateway: store: "+format, args...)) // Pebble's own contract: corruption it cannot go on from
}
