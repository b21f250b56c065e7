package server

import (
	"net"
	"net/http"
	"unicode/utf8"
)

// clientAddr is the address the request came from, without its port.
// Forwarding headers are not trusted: anyone can send them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userAgent is the request's User-Agent, cut to maxUserAgentLen bytes.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) <= maxUserAgentLen {
		return ua
	}
	ua = ua[:maxUserAgentLen]
	for !utf8.ValidString(ua) {
		ua = ua[:len(ua)-1]
	}
	return ua
}
