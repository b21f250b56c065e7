package server

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestTrustedProxiesClient: the client is the rightmost address the
// trusted proxies did not write, read only on a connection from one of
// them, from the one header they write; nothing the sender chose is taken
// for its address.
func TestTrustedProxiesClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name   string
		header string // Forwarded instead of X-Forwarded-For
		peer   string
		lines  []string
		want   string
	}{
		{"no proxy trusted", "", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"a peer that is no proxy", "", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"one proxy", "", "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the client's own header is left of the proxy's", "", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"a line per proxy (haproxy)", "", "127.0.0.1:5000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"garbage keeps the proxy", "", "127.0.0.1:5000", []string{"not-an-address"}, "127.0.0.1"},
		{"no header keeps the proxy", "", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"IPv4 in IPv6", "", "[::ffff:127.0.0.1]:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"Forwarded", HeaderForwarded, "127.0.0.1:5000", []string{`for=6.6.6.6, for="[2001:db8::1]:4711";proto=https`}, "2001:db8::1"},
		{"Forwarded obfuscated keeps the proxy", HeaderForwarded, "127.0.0.1:5000", []string{"for=_hidden"}, "127.0.0.1"},
	}
	for _, tt := range tests {
		p := trustedProxies{Networks: trusted, Header: tt.header}
		if tt.name == "no proxy trusted" {
			p.Networks = nil
		}
		r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
		name := HeaderXForwardedFor
		if tt.header == HeaderForwarded {
			name = HeaderForwarded
			// The header the proxies do not write is never read.
			r.Header.Add(HeaderXForwardedFor, "6.6.6.6")
		} else {
			r.Header.Add(HeaderForwarded, "for=6.6.6.6")
		}
		for _, l := range tt.lines {
			r.Header.Add(name, l)
		}
		got, _ := p.client(r)
		if got.String() != tt.want {
			t.Errorf("%s: client %s; want %s", tt.name, got, tt.want)
		}
	}
}
