package cli

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// sslmode=prefer, libpq's default and so ours, asks the server for TLS and
// goes on without it when refused. libpq does that on one connection; pgx
// makes it two attempts (see pgconn.ParseConfig's Fallbacks): a connection
// that asks for TLS, and when the server says no, a second connection
// without. Each connection is a new PostgreSQL process, so against a
// server without TLS every command paid for two (about 12 ms on this
// machine, and a round trip more on a network). preferTLSOnOneConnection
// gives each host of a prefer URL one connection again: the dialer asks
// for TLS itself and carries on in the clear on the same connection when
// the server refuses.

// sslRequestCode is the SSLRequest packet's code.
const sslRequestCode = 80877103

// preferTLSOnOneConnection folds each pair of attempts pgx made of a
// prefer URL's host (with TLS, then the same address without) into one
// attempt whose dialer asks for TLS. Attempts with client certificates are
// left as they are: pgx prepares those itself.
func preferTLSOnOneConnection(cfg *pgconn.Config) {
	attempts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	preferred := map[string]*tls.Config{}
	var kept []*pgconn.FallbackConfig
	for i := 0; i < len(attempts); i++ {
		a := attempts[i]
		if i+1 < len(attempts) && isPreferPair(a, attempts[i+1]) {
			preferred[net.JoinHostPort(a.Host, fmt.Sprint(a.Port))] = a.TLSConfig
			kept = append(kept, attempts[i+1])
			i++
			continue
		}
		kept = append(kept, a)
	}
	if len(preferred) == 0 {
		return
	}
	cfg.Host, cfg.Port, cfg.TLSConfig, cfg.Fallbacks = kept[0].Host, kept[0].Port, kept[0].TLSConfig, kept[1:]
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		tlsConfig, ok := preferred[addr]
		if err != nil || !ok {
			return conn, err
		}
		tlsConn, accepted, err := askForTLS(ctx, conn, tlsConfig)
		switch {
		case err == nil && accepted:
			return tlsConn, nil
		case err == nil:
			return conn, nil
		}
		// A server that accepted TLS and then failed the handshake gets
		// a connection in the clear, as libpq's prefer does.
		conn.Close()
		return dial(ctx, network, addr)
	}
}

// isPreferPair reports whether b is a's address without TLS, the second
// attempt pgx makes of a prefer URL's host.
func isPreferPair(a, b *pgconn.FallbackConfig) bool {
	return a.TLSConfig != nil && b.TLSConfig == nil && a.Host == b.Host && a.Port == b.Port &&
		len(a.TLSConfig.Certificates) == 0 && a.TLSConfig.GetClientCertificate == nil
}

// askForTLS sends an SSLRequest on conn and, when the server accepts,
// returns the TLS connection after its handshake; when it refuses, conn
// can go on in the clear. ctx's deadline bounds the exchange.
func askForTLS(ctx context.Context, conn net.Conn, tlsConfig *tls.Config) (net.Conn, bool, error) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
		defer conn.SetDeadline(time.Time{})
	}
	var request [8]byte
	binary.BigEndian.PutUint32(request[:4], 8)
	binary.BigEndian.PutUint32(request[4:], sslRequestCode)
	if _, err := conn.Write(request[:]); err != nil {
		return nil, false, err
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return nil, false, err
	}
	if answer[0] != 'S' {
		return nil, false, nil
	}
	tlsConn := tls.Client(conn, tlsConfig)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return nil, false, err
	}
	return tlsConn, true, nil
}
