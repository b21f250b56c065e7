package server

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auth-session/auth-session/pkg/outage"
)

// database is a pool of the server's and the Guard of its outages, named
// for the pool label: "primary" (Config.Pool) or "read" (Config.ReadPool).
type database struct {
	name  string
	pool  *pgxpool.Pool
	guard *outage.Guard
}

// databaseCollector reads the pools' statistics (pgxpool.Stat) and the
// outage guards' state at each scrape, so the requests pay nothing for them.
type databaseCollector struct {
	dbs []database
}

func dbDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(metricsNamespace+"_db_"+name, help, []string{"pool"}, nil)
}

var (
	poolMaxConns         = dbDesc("pool_max_connections", "Most connections the pool opens.")
	poolTotalConns       = dbDesc("pool_connections", "Connections the pool holds: acquired, idle and being made.")
	poolAcquiredConns    = dbDesc("pool_acquired_connections", "Connections in use by a request or job.")
	poolIdleConns        = dbDesc("pool_idle_connections", "Connections open and unused.")
	poolConstructing     = dbDesc("pool_constructing_connections", "Connections being made.")
	poolAcquires         = dbDesc("pool_acquires_total", "Connections acquired from the pool.")
	poolAcquireSeconds   = dbDesc("pool_acquire_seconds_total", "Time spent acquiring connections, waits for a free one included.")
	poolEmptyAcquires    = dbDesc("pool_empty_acquires_total", "Acquires that found no idle connection and waited for one to be made or released.")
	poolEmptyWaitSeconds = dbDesc("pool_empty_acquire_wait_seconds_total", "Time the empty acquires waited.")
	poolCanceledAcquires = dbDesc("pool_canceled_acquires_total", "Acquires given up because their context ended.")
	poolNewConns         = dbDesc("pool_new_connections_total", "Connections the pool made.")
	poolLifetimeClosed   = dbDesc("pool_max_lifetime_closed_total", "Connections closed for reaching their maximum lifetime.")
	poolIdleClosed       = dbDesc("pool_max_idle_closed_total", "Connections closed for staying idle too long.")

	dbDown        = dbDesc("down", "1 while the database is unreachable (an outage: requests get 503 at once), else 0.")
	dbOutageFor   = dbDesc("outage_seconds", "How long the current outage has lasted; 0 while the database is up.")
	dbOutages     = dbDesc("outages_total", "Outages since the server started.")
	dbDownFor     = dbDesc("down_seconds_total", "Time spent in outages since the server started, the current one included.")
	databaseDescs = []*prometheus.Desc{poolMaxConns, poolTotalConns, poolAcquiredConns, poolIdleConns, poolConstructing,
		poolAcquires, poolAcquireSeconds, poolEmptyAcquires, poolEmptyWaitSeconds, poolCanceledAcquires, poolNewConns,
		poolLifetimeClosed, poolIdleClosed, dbDown, dbOutageFor, dbOutages, dbDownFor}
)

// Describe implements prometheus.Collector.
func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range databaseDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, pool string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, pool)
	}
	counter := func(d *prometheus.Desc, v float64, pool string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, pool)
	}
	for _, db := range c.dbs {
		st := db.pool.Stat()
		gauge(poolMaxConns, float64(st.MaxConns()), db.name)
		gauge(poolTotalConns, float64(st.TotalConns()), db.name)
		gauge(poolAcquiredConns, float64(st.AcquiredConns()), db.name)
		gauge(poolIdleConns, float64(st.IdleConns()), db.name)
		gauge(poolConstructing, float64(st.ConstructingConns()), db.name)
		counter(poolAcquires, float64(st.AcquireCount()), db.name)
		counter(poolAcquireSeconds, st.AcquireDuration().Seconds(), db.name)
		counter(poolEmptyAcquires, float64(st.EmptyAcquireCount()), db.name)
		counter(poolEmptyWaitSeconds, st.EmptyAcquireWaitTime().Seconds(), db.name)
		counter(poolCanceledAcquires, float64(st.CanceledAcquireCount()), db.name)
		counter(poolNewConns, float64(st.NewConnsCount()), db.name)
		counter(poolLifetimeClosed, float64(st.MaxLifetimeDestroyCount()), db.name)
		counter(poolIdleClosed, float64(st.MaxIdleDestroyCount()), db.name)

		o := db.guard.Stats()
		down := 0.0
		if o.Down {
			down = 1
		}
		gauge(dbDown, down, db.name)
		gauge(dbOutageFor, o.DownFor.Seconds(), db.name)
		counter(dbOutages, float64(o.Outages), db.name)
		counter(dbDownFor, o.TotalDown.Seconds(), db.name)
	}
}
