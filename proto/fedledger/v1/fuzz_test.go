package fedledgerv1

import (
	"crypto/ed25519"
	"testing"
)

// FuzzDecodeTx feeds arbitrary bytes to the transaction decoder: it must
// return an error or a message, never panic.
func FuzzDecodeTx(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	good, err := SignTx(key, "c", 1, &Msg{Sum: &Msg_CommitUpdate{CommitUpdate: &CommitUpdate{TaskId: 1, Round: 1}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, bz []byte) {
		tx, msg, err := DecodeTx(bz)
		if err != nil {
			return
		}
		_ = tx.VerifySignature()
		_ = msg.Kind()
	})
}

// FuzzDecodeVector feeds arbitrary bytes to the vector decoder.
func FuzzDecodeVector(f *testing.F) {
	v, _ := NewVector(16, WIDTH_INT32, []int64{1, -2, 3})
	bz, _ := v.Marshal()
	f.Add(bz)
	f.Add([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0x0f})
	sp, _ := NewCompressedVector(8, WIDTH_INT8, 10, []uint32{0, 3, 9}, []int64{-128, 5, 127}, []uint32{4, 6}, []int64{3, 1 << 32})
	bz, _ = sp.Marshal()
	f.Add(bz)
	f.Fuzz(func(t *testing.T, bz []byte) {
		v, err := DecodeVector(bz)
		if err != nil {
			return
		}
		vals, err := v.Values()
		if err != nil || uint32(len(vals)) != v.Len {
			t.Fatalf("validated vector failed to unpack: %v", err)
		}
	})
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	bz, err := SignTx(key, "chain-a", 7, &Msg{Sum: &Msg_CreateTask{CreateTask: &CreateTask{}}})
	if err != nil {
		t.Fatal(err)
	}
	tx, msg, err := DecodeTx(bz)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	if msg.Kind() != "create_task" || tx.Nonce != 7 || tx.ChainId != "chain-a" {
		t.Fatalf("round trip lost data: %+v %v", tx, msg.Kind())
	}
	tx.Nonce = 8
	if err := tx.VerifySignature(); err == nil {
		t.Fatal("changed nonce still verifies")
	}
}

func TestVectorRoundTrip(t *testing.T) {
	for _, w := range []Width{WIDTH_INT32, WIDTH_INT64} {
		v, err := NewVector(16, w, []int64{0, 1, -1, 1 << 30, -(1 << 31)})
		if err != nil {
			t.Fatal(err)
		}
		bz, _ := v.Marshal()
		d, err := DecodeVector(bz)
		if err != nil {
			t.Fatal(err)
		}
		vals, _ := d.Values()
		if vals[4] != -(1<<31) || vals[3] != 1<<30 || vals[2] != -1 {
			t.Fatalf("width %v: got %v", w, vals)
		}
	}
	if _, err := NewVector(16, WIDTH_INT32, []int64{1 << 40}); err == nil {
		t.Fatal("int32 overflow accepted")
	}
	bad := Vector{FracBits: 1, Width: WIDTH_INT32, Len: 3, Data: make([]byte, 8)}
	if err := bad.Validate(); err == nil {
		t.Fatal("short data accepted")
	}
}
