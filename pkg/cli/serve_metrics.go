package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/server"
)

// Flags of serve's Prometheus metrics.
const (
	flagMetrics     = "metrics"
	flagMetricsAddr = "metrics-addr"
)

func metricsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: flagMetrics, Value: true,
			Usage: "serve Prometheus metrics at GET " + server.MetricsPath + " (no per-user data: see docs/metrics.md); --metrics=false counts nothing"},
		&cli.StringFlag{Name: flagMetricsAddr,
			Usage: "serve " + server.MetricsPath + " on `HOST:PORT` instead of --http-addr, such as 127.0.0.1:9090 to keep it on loopback; " +
				"the main address then answers it 404"},
	}
}

// metricsFromFlags reads the metrics flags into opts.
func metricsFromFlags(c *cli.Context, opts *serveOptions) error {
	opts.metrics, opts.metricsAddr = c.Bool(flagMetrics), c.String(flagMetricsAddr)
	if opts.metricsAddr == "" {
		return nil
	}
	if !opts.metrics {
		return usageErrorf("--%s and --%s=false exclude each other: with metrics off there is nothing to serve there",
			flagMetricsAddr, flagMetrics)
	}
	return checkListenAddr(flagMetricsAddr, opts.metricsAddr)
}
