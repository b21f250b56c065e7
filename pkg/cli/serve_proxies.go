package cli

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/server"
)

// Flags of serve's trusted reverse proxies.
const (
	flagTrustedProxies  = "trusted-proxies"
	flagForwardedHeader = "forwarded-header"
)

func trustedProxiesFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagTrustedProxies, EnvVars: []string{"AUTH_SESSION_TRUSTED_PROXIES"},
			Usage: "take the client's address from the forwarding header on connections from these proxies: `ADDRS`, addresses and CIDR networks " +
				"separated by commas (the rightmost address in the header that is not one of them); without it the header is ignored"},
		&cli.StringFlag{Name: flagForwardedHeader, Value: strings.ToLower(server.HeaderXForwardedFor),
			Usage: "the forwarding `HEADER` the trusted proxies write: x-forwarded-for or forwarded (RFC 7239); the other is ignored"},
	}
}

// trustedProxiesFromFlags reads the trusted proxies' flags.
func trustedProxiesFromFlags(c *cli.Context) (server.TrustedProxies, error) {
	var p server.TrustedProxies
	switch h := c.String(flagForwardedHeader); strings.ToLower(h) {
	case "x-forwarded-for":
		p.Header = server.HeaderXForwardedFor
	case "forwarded":
		p.Header = server.HeaderForwarded
	default:
		return p, usageErrorf("invalid --%s %q: want x-forwarded-for or forwarded", flagForwardedHeader, h)
	}
	if v := c.String(flagTrustedProxies); v != "" {
		nets, err := server.ParseNetworks(v)
		if err != nil {
			return p, usageErrorf("invalid --%s %q: %w", flagTrustedProxies, v, err)
		}
		p.Networks = nets
	} else if c.IsSet(flagForwardedHeader) {
		return p, usageErrorf("--%s names the header of the proxies --%s trusts: give --%s too", flagForwardedHeader, flagTrustedProxies, flagTrustedProxies)
	}
	return p, nil
}
