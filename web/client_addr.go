package web

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// parseProxies reads TrustedProxies (addresses or CIDR blocks, as Fiber
// takes them) into prefixes. What does not parse is returned apart, for
// the caller to report: Fiber ignores it too.
func parseProxies(list []string) (proxies []netip.Prefix, bad []string) {
	for _, p := range list {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "/") {
			if pre, err := netip.ParsePrefix(p); err == nil {
				proxies = append(proxies, pre.Masked())
				continue
			}
		} else if a, err := netip.ParseAddr(p); err == nil {
			a = a.Unmap()
			proxies = append(proxies, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, p)
	}
	return proxies, bad
}

// proxyList is proxies as Fiber takes them: single addresses bare, so
// that its exact match on the peer's address finds them.
func proxyList(proxies []netip.Prefix) []string {
	out := make([]string, len(proxies))
	for i, p := range proxies {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// trustedProxy reports whether a is one of TrustedProxies.
func (s *Server) trustedProxy(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address of the client that sent the request. It is the
// peer's, unless the peer is a trusted proxy (Fiber's check over
// TrustedProxies); then it is the last address in X-Forwarded-For that is
// not a trusted proxy. Each proxy appends the address it got the request
// from, so everything left of that is the client's own say, which anyone
// can forge; Fiber's c.IP() takes the leftmost, so it is not used here.
// The header's lines are read as one list, as RFC 9110 joins them.
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !c.IsProxyTrusted() {
		return peer
	}
	var hops []string
	c.Request().Header.VisitAll(func(key, value []byte) {
		if bytes.EqualFold(bytes.TrimSpace(key), []byte(fiber.HeaderXForwardedFor)) {
			hops = append(hops, strings.Split(string(value), ",")...)
		}
	})
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// Not an address: nothing left of it can be told apart from
			// the client's own say. The nearest hop known stands.
			break
		}
		client = a
		if !s.trustedProxy(a) {
			break
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711"), as some proxies write.
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
