package node

import (
	"errors"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
)

// onceDB guards a CometBFT database against use after Close. A stopping
// node's goroutines (the consensus reactor's per-peer routines, the
// indexer service between two events) may still touch a store for a
// moment after Stop, and some backends panic on any use of a closed DB.
// Close takes the write lock, so it waits for every call in flight; after
// Close, reads find nothing, writes fail with errDBClosed (CometBFT logs
// them) and Close is a no-op.
type onceDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
	err    error
}

// errDBClosed is what a write to a database of a stopped node returns.
var errDBClosed = errors.New("node: database closed: node stopped")

// do runs f under the read lock unless the database is closed.
func (d *onceDB) do(f func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return errDBClosed
	}
	return f()
}

func (d *onceDB) Get(key []byte) (v []byte, err error) {
	err = d.do(func() error { v, err = d.DB.Get(key); return err })
	if errors.Is(err, errDBClosed) {
		return nil, nil
	}
	return v, err
}

func (d *onceDB) Has(key []byte) (ok bool, err error) {
	err = d.do(func() error { ok, err = d.DB.Has(key); return err })
	if errors.Is(err, errDBClosed) {
		return false, nil
	}
	return ok, err
}

func (d *onceDB) Set(k, v []byte) error     { return d.do(func() error { return d.DB.Set(k, v) }) }
func (d *onceDB) SetSync(k, v []byte) error { return d.do(func() error { return d.DB.SetSync(k, v) }) }
func (d *onceDB) Delete(k []byte) error     { return d.do(func() error { return d.DB.Delete(k) }) }
func (d *onceDB) DeleteSync(k []byte) error { return d.do(func() error { return d.DB.DeleteSync(k) }) }
func (d *onceDB) Print() error              { return d.do(d.DB.Print) }
func (d *onceDB) Compact(start, end []byte) error {
	return d.do(func() error { return d.DB.Compact(start, end) })
}

func (d *onceDB) Stats() map[string]string {
	var st map[string]string
	_ = d.do(func() error { st = d.DB.Stats(); return nil })
	return st
}

func (d *onceDB) Iterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.do(func() error { it, err = d.DB.Iterator(start, end); return err })
	if err != nil {
		return nil, err
	}
	return &onceIter{Iterator: it, db: d}, nil
}

func (d *onceDB) ReverseIterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.do(func() error { it, err = d.DB.ReverseIterator(start, end); return err })
	if err != nil {
		return nil, err
	}
	return &onceIter{Iterator: it, db: d}, nil
}

func (d *onceDB) NewBatch() dbm.Batch {
	var b dbm.Batch
	if err := d.do(func() error { b = d.DB.NewBatch(); return nil }); err != nil {
		return closedBatch{}
	}
	return &onceBatch{Batch: b, db: d}
}

func (d *onceDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.err = d.DB.Close()
	}
	return d.err
}

// onceBatch is a batch whose writes fail once its database is closed.
type onceBatch struct {
	dbm.Batch
	db *onceDB
}

func (b *onceBatch) Write() error     { return b.db.do(b.Batch.Write) }
func (b *onceBatch) WriteSync() error { return b.db.do(b.Batch.WriteSync) }
func (b *onceBatch) Close() error {
	if err := b.db.do(b.Batch.Close); err != nil && !errors.Is(err, errDBClosed) {
		return err
	}
	return nil
}

// closedBatch is the batch of a closed database: it takes nothing.
type closedBatch struct{}

func (closedBatch) Set(_, _ []byte) error { return errDBClosed }
func (closedBatch) Delete([]byte) error   { return errDBClosed }
func (closedBatch) Write() error          { return errDBClosed }
func (closedBatch) WriteSync() error      { return errDBClosed }
func (closedBatch) Close() error          { return nil }

// onceIter is an iterator that reads as exhausted once its database is
// closed.
type onceIter struct {
	dbm.Iterator
	db *onceDB
}

func (it *onceIter) Valid() bool {
	ok := false
	_ = it.db.do(func() error { ok = it.Iterator.Valid(); return nil })
	return ok
}

func (it *onceIter) Next() { _ = it.db.do(func() error { it.Iterator.Next(); return nil }) }

func (it *onceIter) Key() (k []byte) {
	_ = it.db.do(func() error { k = it.Iterator.Key(); return nil })
	return k
}

func (it *onceIter) Value() (v []byte) {
	_ = it.db.do(func() error { v = it.Iterator.Value(); return nil })
	return v
}

func (it *onceIter) Error() error {
	var err error
	if e := it.db.do(func() error { err = it.Iterator.Error(); return nil }); e != nil {
		return e
	}
	return err
}

func (it *onceIter) Close() error {
	if err := it.db.do(it.Iterator.Close); err != nil && !errors.Is(err, errDBClosed) {
		return err
	}
	return nil
}
