package devices

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Conn is a device's MQTT 5 connection to a gateway: it publishes with
// QoS 1 and waits for each acknowledgement and its reason code. It is the
// little of MQTT a bedside monitor needs, on mochi-mqtt's packet codec.
type Conn struct {
	nc net.Conn
	br *bufio.Reader

	wmu sync.Mutex // one packet written at a time

	mu      sync.Mutex
	nextID  uint16
	pending map[uint16]chan ack
	err     error // why the connection ended
	done    chan struct{}
}

type ack struct {
	code   byte
	reason string
}

// ErrRefused is a connection or a publish the gateway refused; the error
// carries its reason code and text.
var ErrRefused = errors.New("devices: refused by the gateway")

// RefusedError is a refusal with the gateway's reason code and text.
type RefusedError struct {
	Code   byte
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: reason 0x%02x %s", ErrRefused, e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Kind is the refusal's kind: the gateway's reason up to its first colon
// (out_of_range, wrong_unit, ...), or the MQTT reason code.
func (e *RefusedError) Kind() string {
	if k, _, ok := strings.Cut(e.Reason, ":"); ok && k != "" {
		return k
	}
	return fmt.Sprintf("mqtt_0x%02x", e.Code)
}

// ErrConnLost is a publish whose acknowledgement did not come because the
// connection ended: the reading may or may not be stored, and is to be
// sent again (with the same id: the gateway stores it once).
var ErrConnLost = errors.New("devices: connection lost")

// Dial connects to the gateway at addr (host:port) as device with secret.
func Dial(ctx context.Context, addr, device, secret string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, br: bufio.NewReader(nc), pending: map[uint16]chan ack{}, done: make(chan struct{})}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: device, Keepalive: 0,
			UsernameFlag: device != "", Username: []byte(device), PasswordFlag: secret != "", Password: []byte(secret)}}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		nc.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := nc.Write(buf.Bytes()); err != nil {
		nc.Close()
		return nil, err
	}
	fh, body, err := c.read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("devices: %s: no CONNACK: %w", device, err)
	}
	nc.SetDeadline(time.Time{})
	if fh.Type != packets.Connack {
		nc.Close()
		return nil, fmt.Errorf("devices: %s: got packet type %d, want CONNACK", device, fh.Type)
	}
	ca := packets.Packet{FixedHeader: fh, ProtocolVersion: 5}
	if err := ca.ConnackDecode(body); err != nil {
		nc.Close()
		return nil, err
	}
	if ca.ReasonCode != 0 {
		nc.Close()
		return nil, &RefusedError{Code: ca.ReasonCode, Reason: ca.Properties.ReasonString}
	}
	go c.loop()
	return c, nil
}

// read reads one packet: its fixed header and body.
func (c *Conn) read() (packets.FixedHeader, []byte, error) {
	var fh packets.FixedHeader
	hb, err := c.br.ReadByte()
	if err != nil {
		return fh, nil, err
	}
	if err := fh.Decode(hb); err != nil {
		return fh, nil, err
	}
	n, _, err := packets.DecodeLength(c.br)
	if err != nil {
		return fh, nil, err
	}
	fh.Remaining = n
	body := make([]byte, n)
	if _, err := ioReadFull(c.br, body); err != nil {
		return fh, nil, err
	}
	return fh, body, nil
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// loop reads acknowledgements until the connection ends.
func (c *Conn) loop() {
	var err error
	for {
		var fh packets.FixedHeader
		var body []byte
		if fh, body, err = c.read(); err != nil {
			break
		}
		switch fh.Type {
		case packets.Puback:
			pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 5}
			if err = pk.PubackDecode(body); err != nil {
				break
			}
			c.mu.Lock()
			ch := c.pending[pk.PacketID]
			delete(c.pending, pk.PacketID)
			c.mu.Unlock()
			if ch != nil {
				ch <- ack{pk.ReasonCode, pk.Properties.ReasonString}
			}
		case packets.Disconnect:
			pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 5}
			pk.DisconnectDecode(body)
			err = fmt.Errorf("%w: the gateway disconnected (reason 0x%02x %s)", ErrConnLost, pk.ReasonCode, pk.Properties.ReasonString)
		}
		if err != nil {
			break
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrConnLost, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
	c.nc.Close()
}

// Publish sends payload to topic with QoS 1 and waits for its
// acknowledgement. A refusal is ErrRefused with the gateway's reason; a
// connection that ended first is ErrConnLost.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte) error {
	ch := make(chan ack, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	for {
		c.nextID++
		if _, used := c.pending[c.nextID]; c.nextID != 0 && !used {
			break
		}
	}
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 5,
		TopicName: topic, PacketID: id, Payload: payload}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		return err
	}
	c.wmu.Lock()
	_, err := c.nc.Write(buf.Bytes())
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
		return fmt.Errorf("%w: %v", ErrConnLost, err)
	}
	select {
	case a, ok := <-ch:
		if !ok {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.err
		}
		if a.code >= 0x80 {
			return &RefusedError{Code: a.code, Reason: a.reason}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Close ends the connection.
func (c *Conn) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}
