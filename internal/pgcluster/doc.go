// Package pgcluster starts and stops a throwaway local PostgreSQL server.
// The programs production runs around one (standbys, pgbouncer, Patroni,
// etcd, haproxy) are started by its subpackage ha, which only tests, the
// benchmarks and `make demo-ha` import, so the auth-session binary does not
// carry them.
//
// It drives the stock PostgreSQL programs (initdb, pg_ctl) found by BinDir: Start
// creates a data directory when needed, tunes it for speed over durability
// (fsync off, no full page writes) because the data is disposable, starts the
// server on 127.0.0.1 and waits until it accepts a connection. The test helper
// package pgtest, the CLI's demo command and package ha are its users.
//
// PostgreSQL refuses to run as root, so when the current process is root the
// programs run as the OS user that owns the data directory, or as the
// "postgres" OS user for a new one; Start makes the directories it creates
// belong to that user.
//
// A data directory that already holds a running server is reused rather than
// restarted, so a long-lived directory such as the one `make demo` keeps can be
// shared by several commands. The superuser name and password are stored inside
// the data directory (mode 0600) so that a later Start knows them.
package pgcluster
