package cli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

// The flags of settings. Every process over the database applies the
// settings it holds (auth-session settings); a flag of a setting given to
// one process, or its environment variable set, wins over the database's
// value for that process alone. Each flag is named as its setting, and
// takes the values the setting takes.

// settingFlag is the flag of setting name, with usage saying what it does
// and then which value wins.
func settingFlag(name, usage string, envVars ...string) cli.Flag {
	return namedSettingFlag(name, name, usage, envVars...)
}

// namedSettingFlag is settingFlag for a flag not named as its setting.
func namedSettingFlag(flag, setting, usage string, envVars ...string) cli.Flag {
	s, err := sql.LookupSetting(setting)
	if err != nil {
		panic(err)
	}
	def := s.Default
	if def == "" {
		def = "empty"
	}
	return &cli.StringFlag{Name: flag, EnvVars: envVars,
		Usage: fmt.Sprintf("%s. Given, it wins over the database's setting %s for this process; otherwise that setting applies (%s unless set; see auth-session settings)",
			usage, setting, def)}
}

// pinnedFromFlags reads the flags of settings names given explicitly: the
// values that win over the database's, by setting name (see sql.Pin).
func pinnedFromFlags(c *cli.Context, names ...string) (map[string]string, error) {
	pinned := map[string]string{}
	for _, name := range names {
		if err := pinFlag(c, pinned, name, name); err != nil {
			return nil, err
		}
	}
	return pinned, nil
}

// pinFlag adds the value of flag, when given, to pinned as setting's,
// checked as the setting checks its values: a bad one is a usage error
// naming the flag and what it takes.
func pinFlag(c *cli.Context, pinned map[string]string, flag, setting string) error {
	if !c.IsSet(flag) {
		return nil
	}
	s, err := sql.LookupSetting(setting)
	if err != nil {
		return err
	}
	given := c.String(flag)
	if pinned[setting], err = s.Check(given); err != nil {
		return usageErrorf("invalid --%s %q: %w", flag, given, err)
	}
	return nil
}

// flagIdleTimeout is the idle timeout's flag, of serve and of the commands
// that read a session's state.
const flagIdleTimeout = sql.SettingIdleTimeout

func idleTimeoutFlag(usage string) cli.Flag {
	return settingFlag(flagIdleTimeout, usage, "AUTH_SESSION_IDLE_TIMEOUT")
}

// readIdleTimeout sets sel's idle timeout to the one the settings of db
// say, pinned's winning: the one serve applies. A selection of idle
// sessions needs one.
func readIdleTimeout(ctx context.Context, db sql.DBTX, pinned map[string]string, sel *sql.Selection) error {
	policy, err := sql.ReadPolicy(ctx, db, pinned)
	if err != nil {
		return err
	}
	sel.IdleTimeout = policy.IdleTimeout
	if sel.State == sql.StatusIdle && sel.IdleTimeout == 0 {
		return usageErrorf("--%s idle: no idle timeout applies, so no session is idle: set one for every process with "+
			"'auth-session settings set %s DURATION', or give --%s", flagState, sql.SettingIdleTimeout, flagIdleTimeout)
	}
	return nil
}
