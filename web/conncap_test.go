package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// getHealthz asks for /healthz on a kept-alive connection and returns the
// status, or 0 when the connection ends without an answer.
func getHealthz(t *testing.T, conn net.Conn, in *bufio.Reader) int {
	t.Helper()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(in, nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMaxConnsPerIP holds connections open from one address: past the
// cap a new one is answered 429 and closed, and once one closes another
// gets in.
func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv := NewServer(t.Context(), &Server{Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger, MaxConnsPerIP: 2})
	addr := serveTCP(t, srv)
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		return conn, bufio.NewReader(conn)
	}
	get := func(conn net.Conn, in *bufio.Reader) int { return getHealthz(t, conn, in) }
	c1, in1 := dial()
	c2, in2 := dial()
	if s1, s2 := get(c1, in1), get(c2, in2); s1 != 200 || s2 != 200 {
		t.Fatalf("the first two connections: %d, %d", s1, s2)
	}
	c3, in3 := dial()
	resp, err := http.ReadResponse(in3, nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the third connection: %v, %v; want a 429", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := in3.ReadByte(); err != io.EOF {
		t.Errorf("the third connection stays open (%v)", err)
	}
	c3.Close()
	// The first two still serve.
	if s1, s2 := get(c1, in1), get(c2, in2); s1 != 200 || s2 != 200 {
		t.Errorf("the first two connections after the third: %d, %d", s1, s2)
	}
	// Once one closes (the server sees it at its next read), a new one gets in.
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, in := dial()
		status := get(c, in)
		c.Close()
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing one, a new connection still gets %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxConnsPerIP_ShutdownWithIdleConnections shuts down while capped
// connections idle: each is closed twice, by Shutdown and by its worker,
// and the process stays up. (fasthttp v1.51's own cap panics here, now
// and then: TestCappedConn_ClosesOnce checks the invariant every time.)
func TestMaxConnsPerIP_ShutdownWithIdleConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv := NewServer(t.Context(), &Server{Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger, MaxConnsPerIP: 20})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for range 16 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if status := getHealthz(t, c, bufio.NewReader(c)); status != 200 {
			t.Fatalf("status %d", status)
		}
	}
	// Idle, as fasthttp counts them: after the answer, waiting for the next request.
	time.Sleep(100 * time.Millisecond)
	if err := srv.Shutdown(5 * time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	// The workers close their connections after Shutdown returns.
	time.Sleep(500 * time.Millisecond)
}

// TestMaxConnsPerIP_IPv6 counts an IPv6 client by its /64.
func TestMaxConnsPerIP_IPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	b := setup(t, nil)
	srv := NewServer(t.Context(), &Server{Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger, MaxConnsPerIP: 1})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(5 * time.Second) })
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	c1, in1 := dial()
	if status := getHealthz(t, c1, in1); status != 200 {
		t.Fatalf("first connection: %d", status)
	}
	_, in2 := dial()
	if resp, err := http.ReadResponse(in2, nil); err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second connection from ::1: %v, %v; want a 429", resp, err)
	}
}

// TestCappedConn_ClosesOnce: however often a connection is closed, it
// closes its socket and gives its place back once.
func TestCappedConn_ClosesOnce(t *testing.T) {
	t.Parallel()
	ln := newConnCapListener(nil, 1)
	key := clientBlock(netip.MustParseAddr("192.0.2.1"))
	ln.open[key] = 1
	server, client := net.Pipe()
	defer client.Close()
	c := &cappedConn{Conn: server, release: func() { ln.release(key) }}
	for range 3 {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok := ln.open[key]; ok {
		t.Errorf("%d connections still counted", n)
	}
	ln.open[key] = 2 // another connection of the address, still open
	c = &cappedConn{Conn: &countingConn{Conn: client}, release: func() { ln.release(key) }}
	c.Close()
	c.Close()
	if ln.open[key] != 1 || c.Conn.(*countingConn).closes != 1 {
		t.Errorf("count %d, socket closed %d times; want 1 and 1", ln.open[key], c.Conn.(*countingConn).closes)
	}
}

type countingConn struct {
	net.Conn
	closes int
}

func (c *countingConn) Close() error { c.closes++; return c.Conn.Close() }
