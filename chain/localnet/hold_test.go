//go:build unix

package localnet

import (
	"net"
	"strconv"
	"testing"
)

// TestHoldPort: a held port cannot be bound by anyone else, refuses
// connections, and binds again once freed.
func TestHoldPort(t *testing.T) {
	// A port with connections in TIME_WAIT (from an earlier test's node)
	// cannot be bound without SO_REUSEADDR: try a few free ports.
	var addr string
	var free func()
	for i := 0; i < 50 && free == nil; i++ {
		p, err := freePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		addr = "127.0.0.1:" + strconv.Itoa(p)
		free = holdPort("tcp://" + addr)
	}
	if free == nil {
		t.Fatal("could not hold any of 50 free ports")
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		free()
		t.Fatal("a held port was bound by another listener")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		free()
		t.Fatal("a held port took a connection")
	}
	free()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("freed port: %v", err)
	}
	l.Close()
}
