package cli

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Flags of serve's trusted reverse proxies.
const (
	flagTrustedProxies  = sql.SettingTrustedProxies
	flagForwardedHeader = "forwarded-header"
)

func trustedProxiesFlags() []cli.Flag {
	return []cli.Flag{
		settingFlag(flagTrustedProxies, "take the client's address from the forwarding header on connections from these proxies: `ADDRS`, addresses and CIDR networks "+
			"separated by commas (the rightmost address in the header that is not one of them); without any the header is ignored",
			"AUTH_SESSION_TRUSTED_PROXIES"),
		&cli.StringFlag{Name: flagForwardedHeader, Value: strings.ToLower(server.HeaderXForwardedFor),
			Usage: "the forwarding `HEADER` the trusted proxies (--trusted-proxies, or the setting) write: x-forwarded-for or forwarded (RFC 7239); the other is ignored"},
	}
}

// forwardedHeaderFromFlag reads --forwarded-header.
func forwardedHeaderFromFlag(c *cli.Context) (string, error) {
	switch h := c.String(flagForwardedHeader); strings.ToLower(h) {
	case "x-forwarded-for":
		return server.HeaderXForwardedFor, nil
	case "forwarded":
		return server.HeaderForwarded, nil
	default:
		return "", usageErrorf("invalid --%s %q: want x-forwarded-for or forwarded", flagForwardedHeader, h)
	}
}
