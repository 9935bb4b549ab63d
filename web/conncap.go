package web

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// connCapListener caps the connections each client address holds open
// (MaxConnsPerIP): one past the cap is answered 429 and closed, and
// serving goes on. It counts an IPv6 client by its /64, as clientBlock
// says, so that one subscriber cannot step round the cap.
//
// fasthttp has a cap of its own (Server.MaxConnsPerIP), but not this one:
// in the fasthttp this module uses (v1.51) a connection Shutdown closes
// while idle is closed a second time by its worker, a nil-pointer panic
// that takes the process down mid-shutdown (valyala/fasthttp#1987, fixed
// in later versions); it also leaves IPv6 clients uncapped.
type connCapListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[netip.Prefix]int
}

func newConnCapListener(ln net.Listener, max int) *connCapListener {
	return &connCapListener{Listener: ln, max: max, open: map[netip.Prefix]int{}}
}

// connCapRefusal is the whole answer to a connection past the cap.
var connCapRefusal = func() []byte {
	const body = "Too many connections from your address. Close one and try again.\n"
	return []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body)
}()

// Accept returns the next connection within the cap.
func (l *connCapListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return c, nil // not TCP (a test's pipe): nothing to count by
		}
		ip, _ := netip.AddrFromSlice(addr.IP)
		key := clientBlock(ip.Unmap())
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			// Aside, so that a client slow to read cannot hold up the
			// accepting of others.
			go refuseConn(c)
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *connCapListener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

func refuseConn(c net.Conn) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(connCapRefusal)
}

// cappedConn gives its place back once, however often it is closed:
// fasthttp closes a connection from its worker and, at shutdown, from
// Shutdown too.
type cappedConn struct {
	net.Conn
	closed  atomic.Bool
	release func()
}

func (c *cappedConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.Conn.Close()
	c.release()
	return err
}
