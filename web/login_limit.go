package web

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Login failures are limited per client address, with growing waits: an
// address's first loginFreeFailures failures cost nothing, and each one
// after doubles its wait, from loginFirstDelay up to loginMaxDelay. An
// address's failures are forgotten loginForgetAfter after its last attempt
// or wait, whichever ends later, and at once when it logs in.
const (
	loginFreeFailures = 5
	loginFirstDelay   = time.Second
	loginMaxDelay     = 15 * time.Minute
	loginForgetAfter  = 15 * time.Minute
	// loginMaxEntries bounds the limiter's memory whatever the number of
	// addresses trying.
	loginMaxEntries = 10000
)

// loginLimiter keeps the login failures of each client address. It keys on
// the address alone: a limit on the user name would let anyone lock the
// operator out from anywhere by guessing wrong. An address that has not
// failed is never held back, and one waiting is told how long for.
//
// It lives in memory: with several web processes each gives its own
// allowance, which bcrypt's cost and the doubling waits still keep far from
// useful for guessing; a shared limit would need a table.
type loginLimiter struct {
	mu      sync.Mutex
	entries map[string]*loginFailures
}

type loginFailures struct {
	n       int       // attempts counted as failures
	until   time.Time // no attempt before this
	expires time.Time // forget the address from this time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{entries: map[string]*loginFailures{}}
}

// loginDelay is the wait that an address's nth failure earns.
func loginDelay(n int) time.Duration {
	doublings := n - loginFreeFailures - 1
	switch {
	case doublings < 0:
		return 0
	case doublings >= 30: // the cap is long passed; the shift would overflow
		return loginMaxDelay
	}
	return min(loginFirstDelay<<doublings, loginMaxDelay)
}

// attempt returns how long key must still wait, recording nothing, or 0
// after recording the attempt as a failure: the caller forgets it if the
// password is right. Counting before the password is checked means
// parallel requests cannot all slip in under the limit: once an address
// has used its free failures, the first of them sets the wait the others
// meet.
func (l *loginLimiter) attempt(now time.Time, key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e != nil && !now.Before(e.expires) {
		e = nil
	}
	if e != nil && now.Before(e.until) {
		return e.until.Sub(now)
	}
	if e == nil {
		l.makeRoom(now)
		e = &loginFailures{}
		l.entries[key] = e
	}
	e.n++
	e.until = now.Add(loginDelay(e.n))
	e.expires = e.until.Add(loginForgetAfter)
	return 0
}

// makeRoom keeps the map under loginMaxEntries: it drops the forgotten
// entries, and if all are live (addresses by the thousand), arbitrary
// ones, which gives those addresses their free failures again but keeps
// the memory bounded. Pruning only when full keeps the common case O(1).
func (l *loginLimiter) makeRoom(now time.Time) {
	if len(l.entries) < loginMaxEntries {
		return
	}
	for k, e := range l.entries {
		if !now.Before(e.expires) {
			delete(l.entries, k)
		}
	}
	for k := range l.entries {
		if len(l.entries) < loginMaxEntries {
			break
		}
		delete(l.entries, k)
	}
}

// forget clears key's failures: its login succeeded.
func (l *loginLimiter) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// loginKey is the limiter's key for a client address.
func loginKey(a netip.Addr) string { return clientBlock(a).String() }

// clientBlock is what the limits count a client address by: an IPv4
// address alone, an IPv6 address by its /64, the block one subscriber
// usually holds whole.
func clientBlock(a netip.Addr) netip.Prefix {
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked()
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// waitText says how long a wait is, rounded up: in seconds under a
// minute, else in minutes.
func waitText(d time.Duration) string {
	if n := int((d + time.Second - 1) / time.Second); n < 60 {
		return strconv.Itoa(n) + " " + plural(n, "second", "seconds")
	}
	n := int((d + time.Minute - 1) / time.Minute)
	return strconv.Itoa(n) + " " + plural(n, "minute", "minutes")
}
