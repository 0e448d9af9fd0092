//go:build unix

package localnet

import (
	"net"
	"strconv"
	"strings"
	"syscall"
)

// holdPort binds a TCP socket to addr ("tcp://host:port" or "host:port")
// without listening and without SO_REUSEADDR: no other process can bind
// the port while it is held, and a connection to it is refused at once,
// as to a stopped node. It returns a func that frees the port, or nil if
// the port could not be held: without SO_REUSEADDR the bind fails while
// the node's closed connections linger in TIME_WAIT, and then the port is
// left as it was (unprotected).
func holdPort(addr string) func() {
	host, port, err := net.SplitHostPort(strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return nil
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil
	}
	sa := &syscall.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil
	}
	return func() { syscall.Close(fd) }
}
