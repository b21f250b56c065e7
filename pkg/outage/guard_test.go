package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrUnavailable, true},
		{fmt.Errorf("check session 1: %w", &pgconn.PgError{Code: "57P01"}), true},
		{&pgconn.PgError{Code: "57P03"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "53300"}, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("conn closed"), true},
		{&pgconn.PgError{Code: "42P01"}, false},
		{&pgconn.PgError{Code: "40001"}, false},
		{context.Canceled, false},
		// A statement that waited too long, on a lock or for a pool's
		// connection, is not an outage; a connection attempt that timed
		// out is.
		{context.DeadlineExceeded, false},
		{fmt.Errorf("check session 1: timeout: %w", context.DeadlineExceeded), false},
		{&pgconn.PgError{Code: "55P03"}, false}, // lock_not_available
		{&pgconn.PgError{Code: "57014"}, false}, // query_canceled
		{connectError(t), true},
		{errors.New("session not found"), false},
	} {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// connectError is what pgx returns when nothing listens where it connects.
func connectError(t *testing.T) error {
	t.Helper()
	_, err := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	return err
}

// While down, attempts are admitted once per backoff step, on a clock of
// the test's own; a connection ends the outage and admits everything again.
func TestAdmitBacksOff(t *testing.T) {
	g := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return clock }
	if err := g.Admit(); err != nil {
		t.Fatalf("up: Admit = %v", err)
	}
	if !g.Failed(&net.OpError{Op: "dial", Err: errors.New("connection refused")}) || !g.Down() {
		t.Fatal("a refused dial did not put the guard down")
	}
	began := clock
	var admitted []time.Duration
	for range 3000 {
		if g.Admit() == nil {
			admitted = append(admitted, clock.Sub(began))
		}
		clock = clock.Add(time.Millisecond)
	}
	// The first after 50 ms, then steps doubling from 50 ms to at most
	// 500 ms: so an attempt comes within 500 ms of the database's return.
	want := []time.Duration{50, 100, 200, 400, 800, 1300, 1800, 2300, 2800}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if fmt.Sprint(admitted) != fmt.Sprint(want) {
		t.Errorf("attempts admitted at %v after the outage began, want %v", admitted, want)
	}
	g.Connected()
	if g.Down() || g.Admit() != nil || g.Admit() != nil {
		t.Error("a connection did not end the outage")
	}
	if g.Failed(&pgconn.PgError{Code: "23505"}) || g.Down() {
		t.Error("a unique violation put the guard down")
	}
}

// A dial that connects to itself fails, and puts the guard down.
func TestDialRefusesConnectionToItself(t *testing.T) {
	g := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	self := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return selfConn{}, nil
	}
	if _, err := g.Dial(self)(context.Background(), "tcp", "127.0.0.1:40000"); err == nil || !g.Down() {
		t.Errorf("dial to itself: err %v, down %v; want an error and the guard down", err, g.Down())
	}
}

type selfConn struct{ net.Conn }

func (selfConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (selfConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (selfConn) Close() error         { return nil }

// Stats count the outages and the time spent down, the current outage
// included, on a clock of the test's own.
func TestStatsCountOutagesAndTimeDown(t *testing.T) {
	g := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return clock }
	if st := g.Stats(); st != (Stats{}) {
		t.Errorf("before any outage: %+v, want zeros", st)
	}
	refused := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	g.Failed(refused)
	clock = clock.Add(3 * time.Second)
	g.Failed(refused) // the same outage
	if st, want := g.Stats(), (Stats{Down: true, DownFor: 3 * time.Second, Outages: 1, TotalDown: 3 * time.Second}); st != want {
		t.Errorf("3s into the first outage: %+v, want %+v", st, want)
	}
	clock = clock.Add(time.Second)
	g.Connected()
	clock = clock.Add(time.Minute)
	g.Failed(refused)
	clock = clock.Add(2 * time.Second)
	if st, want := g.Stats(), (Stats{Down: true, DownFor: 2 * time.Second, Outages: 2, TotalDown: 6 * time.Second}); st != want {
		t.Errorf("2s into the second outage: %+v, want %+v", st, want)
	}
	g.Connected()
	if st, want := g.Stats(), (Stats{Outages: 2, TotalDown: 6 * time.Second}); st != want {
		t.Errorf("after both: %+v, want %+v", st, want)
	}
}
