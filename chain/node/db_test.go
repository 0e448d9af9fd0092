package node

import (
	"errors"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
)

// TestOnceDBAfterClose uses a real goleveldb database (CometBFT's default backend) the way the goroutines
// of a stopping CometBFT node may: after Close, reads find nothing, writes
// (direct or batched, including a batch made before Close) fail with
// errDBClosed, and nothing panics.
func TestOnceDBAfterClose(t *testing.T) {
	raw, err := dbm.NewGoLevelDB("t", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &onceDB{DB: raw}
	if err := d.Set([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	early := d.NewBatch()
	if err := early.Set([]byte("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	it, err := d.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Valid() || string(it.Key()) != "a" {
		t.Fatalf("iterator before close: valid=%v", it.Valid())
	}
	it.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	if v, err := d.Get([]byte("a")); v != nil || err != nil {
		t.Errorf("Get after close = %q, %v; want nil, nil", v, err)
	}
	if ok, err := d.Has([]byte("a")); ok || err != nil {
		t.Errorf("Has after close = %v, %v; want false, nil", ok, err)
	}
	for name, f := range map[string]func() error{
		"Set":               func() error { return d.Set([]byte("c"), []byte("3")) },
		"SetSync":           func() error { return d.SetSync([]byte("c"), []byte("3")) },
		"Delete":            func() error { return d.Delete([]byte("a")) },
		"DeleteSync":        func() error { return d.DeleteSync([]byte("a")) },
		"early batch Write": early.WriteSync,
		"new batch Write":   func() error { b := d.NewBatch(); _ = b.Set([]byte("d"), nil); return b.Write() },
		"Iterator":          func() error { _, err := d.Iterator(nil, nil); return err },
	} {
		if err := f(); !errors.Is(err, errDBClosed) {
			t.Errorf("%s after close = %v; want errDBClosed", name, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
