package fl

import (
	"testing"
)

func TestPendingStores(t *testing.T) {
	for name, st := range map[string]PendingStore{"mem": NewMemPending(), "dir": DirPending(t.TempDir())} {
		if b, err := st.Get(1, 2); b != nil || err != nil {
			t.Fatalf("%s: empty store gave %v %v", name, b, err)
		}
		if err := st.Put(1, 2, []byte("upd")); err != nil {
			t.Fatal(err)
		}
		if b, _ := st.Get(1, 2); string(b) != "upd" {
			t.Fatalf("%s: got %q", name, b)
		}
		if b, _ := st.Get(1, 3); b != nil {
			t.Fatalf("%s: other round gave %q", name, b)
		}
		if err := st.Delete(1, 2); err != nil {
			t.Fatal(err)
		}
		if b, _ := st.Get(1, 2); b != nil {
			t.Fatalf("%s: deleted update still there", name)
		}
		if err := st.Delete(1, 2); err != nil {
			t.Fatalf("%s: second delete: %v", name, err)
		}
	}
}
