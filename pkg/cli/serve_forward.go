package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/server"
)

// Flags of serve's forward-authentication route.
const (
	flagForwardUserHeader    = "forward-auth-user-header"
	flagForwardSessionHeader = "forward-auth-session-header"
	flagForwardLoginURL      = "forward-auth-login-url"
)

func forwardAuthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagForwardUserHeader, Value: server.DefaultForwardUserHeader,
			Usage: "response header of " + server.ForwardAuthPath + " that names the session's user, for the proxy to pass on as `NAME`"},
		&cli.StringFlag{Name: flagForwardSessionHeader, Value: server.DefaultForwardSessionHeader,
			Usage: "response header of " + server.ForwardAuthPath + " that holds the session id, as `NAME`"},
		&cli.StringFlag{Name: flagForwardLoginURL,
			Usage: "send a browser refused by " + server.ForwardAuthPath + " to the login page at `URL` (a path such as /login, or an absolute http(s) URL), " +
				"with the path it asked for in " + server.ReturnToParam + "=; see docs/forward-auth.md"},
	}
}

// forwardAuthFromFlags reads the forward-auth flags; a value the route
// cannot use is a usage error naming its flag.
func forwardAuthFromFlags(c *cli.Context) (server.ForwardAuth, error) {
	f := server.ForwardAuth{
		UserHeader:    c.String(flagForwardUserHeader),
		SessionHeader: c.String(flagForwardSessionHeader),
		LoginURL:      c.String(flagForwardLoginURL),
	}
	for _, one := range []struct {
		flag string
		cfg  server.ForwardAuth
	}{
		{flagForwardUserHeader, server.ForwardAuth{UserHeader: f.UserHeader}},
		{flagForwardSessionHeader, server.ForwardAuth{SessionHeader: f.SessionHeader}},
		{flagForwardLoginURL, server.ForwardAuth{LoginURL: f.LoginURL}},
	} {
		if err := one.cfg.Validate(); err != nil {
			return f, usageErrorf("--%s: %w", one.flag, err)
		}
	}
	if f.UserHeader == "" || f.SessionHeader == "" {
		return f, usageErrorf("--%s and --%s must not be empty: want a header name such as %s",
			flagForwardUserHeader, flagForwardSessionHeader, server.DefaultForwardUserHeader)
	}
	if err := f.Validate(); err != nil {
		return f, usageErrorf("--%s and --%s: %w", flagForwardUserHeader, flagForwardSessionHeader, err)
	}
	return f, nil
}
