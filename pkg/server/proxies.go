package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy every connection comes from the proxy, so the
// throttle, the recorded address and the logs would see one client. A
// proxy names the client in a forwarding header, which anyone else can
// also send: the header is read only on a connection from a trusted proxy,
// and then only as far as the proxies in it are trusted.

// The forwarding headers the trusted proxies may write
// (Config.ForwardedHeader).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// trustedProxies says which connections' forwarding header names the
// client. The zero value trusts no one: the client is the connection's
// peer.
type trustedProxies struct {
	// Networks hold the proxies' addresses.
	Networks []netip.Prefix
	// Header is the header the proxies write: HeaderXForwardedFor (the
	// default when empty) or HeaderForwarded (RFC 7239). Only that one is
	// read: a client could send the other.
	Header string
}

// validateForwardedHeader reports a header that is neither of the two.
func validateForwardedHeader(h string) error {
	switch h {
	case "", HeaderXForwardedFor, HeaderForwarded:
		return nil
	}
	return fmt.Errorf("unknown forwarding header %q: want %s or %s", h, HeaderXForwardedFor, HeaderForwarded)
}

func (p trustedProxies) trusts(addr netip.Addr) bool {
	for _, n := range p.Networks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// client is the address of the request's client: the peer, or, when the
// peer is a trusted proxy, the rightmost address of the forwarding header
// that is not a trusted proxy (each proxy appends the address it received
// the request from, so addresses left of the first untrusted one were
// written by the client). A header that names no usable address leaves
// the last trusted proxy as the client, never an address the sender chose.
func (p trustedProxies) client(r *http.Request) (netip.Addr, bool) {
	peer, err := peerAddr(r.RemoteAddr)
	if err != nil || len(p.Networks) == 0 || !p.trusts(peer) {
		return peer, false
	}
	hops := p.hops(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0 && p.trusts(client); i-- {
		addr, err := hopAddr(hops[i], p.Header == HeaderForwarded)
		if err != nil {
			break
		}
		client = addr
	}
	return client, client != peer
}

// hops are the addresses the header lists, in order, across all of its
// lines (haproxy adds a line of its own; nginx appends to the last).
func (p trustedProxies) hops(h http.Header) []string {
	var hops []string
	if p.Header == HeaderForwarded {
		for _, line := range h.Values(HeaderForwarded) {
			for _, elem := range strings.Split(line, ",") {
				hop := ""
				for _, pair := range strings.Split(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					if strings.EqualFold(k, "for") {
						hop = strings.Trim(v, `"`)
					}
				}
				hops = append(hops, hop)
			}
		}
		return hops
	}
	for _, line := range h.Values(HeaderXForwardedFor) {
		for _, hop := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// hopAddr reads one address of a forwarding header: a bare address, or,
// in Forwarded, one with a port and IPv6 in brackets.
func hopAddr(hop string, forwarded bool) (netip.Addr, error) {
	if forwarded {
		if ap, err := netip.ParseAddrPort(hop); err == nil {
			return ap.Addr().Unmap(), nil
		}
		hop = strings.TrimSuffix(strings.TrimPrefix(hop, "["), "]")
	}
	addr, err := netip.ParseAddr(hop)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, errors.New("not an address")
	}
	return addr.Unmap(), nil
}

func peerAddr(remote string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	return addr.Unmap(), err
}

// realClient makes the request's RemoteAddr the client the trusted proxies
// name (see trustedProxies.client), for every handler and the request log,
// by the setting trusted-proxies as it is when the request arrives.
func (s *Server) realClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := trustedProxies{Networks: s.policy().TrustedProxies, Header: s.cfg.ForwardedHeader}
		if client, forwarded := p.client(r); forwarded {
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}
