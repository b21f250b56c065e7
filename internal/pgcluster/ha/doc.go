// Package ha starts the programs production runs around PostgreSQL, so that
// tests use the real ones: a streaming hot standby of a pgcluster.Cluster
// (StartStandby, asynchronous or synchronous), pgbouncer (StartBouncer), etcd
// and Patroni nodes (StartEtcd, StartPatroni) and haproxy (StartHAProxy), all
// on free loopback ports, each killed with the process that started it; and
// the reverse proxies put in front of applications that serve authenticates
// for, nginx and Caddy (StartNginx, StartCaddy).
// HostsURL makes the multi-host URL a client uses to follow a failover.
//
// Only tests, the bench programs and `make demo-ha` (package demoha) import
// it; the auth-session binary's demo command needs only package pgcluster.
// As root, pgbouncer and Patroni run as the PostgreSQL OS user, as
// pgcluster's programs do, through pgcluster.Runner.
package ha
