package sql

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings are kept in the database (system.settings), so that every serve
// and command over it applies the same values: a row per setting changed
// from its default. A statement that depends on one reads it in the same
// statement, so a change applies to the next statement of every process.
// The others, which Go code applies (Policy), a command reads once per run
// and serve every few seconds (server.SettingsRefreshInterval); a flag
// given to one process wins over the database's value for that process.

// Setting is one setting: its name, the type of its values, its default
// and what it does. Adding a setting is adding an entry to Settings, and,
// when Go code applies it (not a statement that reads it from the table),
// a field to Policy. A flag that sets it for one process has its name.
type Setting struct {
	Name        string
	Type        SettingType
	Default     string
	Description string
	// Least is, for a duration, the shortest value other than 0.
	Least time.Duration
	// Most is, for a number, the largest value.
	Most int
	// Zero completes "or 0 to" in an error message: what 0 does, for a
	// duration or a number.
	Zero string
}

// SettingType is the kind of value a setting takes.
type SettingType string

// The types of settings.
const (
	// SettingBool is true or false (on and off are read as those).
	SettingBool SettingType = "bool"
	// SettingDuration is a duration as the flags write one (90m, 7d, 1w),
	// or 0.
	SettingDuration SettingType = "duration"
	// SettingInt is a whole number from 0 to the setting's Most.
	SettingInt SettingType = "int"
	// SettingNetworks is addresses and CIDR networks separated by commas
	// (ParseNetworks), or empty for none.
	SettingNetworks SettingType = "networks"
)

// The names of the settings.
const (
	// SettingEndSessionsOnCredentialChange ends a session for good when
	// its role's row in pg_authid changes, or the role may no longer log
	// in (see CredentialsChanged); off, a session is refused only while
	// its role cannot log in, and comes back when it can.
	SettingEndSessionsOnCredentialChange = "end-sessions-on-credential-change"
	// SettingMaxSessionLifetime caps how long a session may last: a login
	// that asks for longer is refused, naming the cap (see
	// LifetimeCapError); 0 for no cap.
	SettingMaxSessionLifetime = "max-session-lifetime"
	// SettingIdleTimeout refuses a session not used for that long, as an
	// expired one, and makes list and show read it as idle (Policy).
	SettingIdleTimeout = "idle-timeout"
	// SettingMaxSessionsPerUser bounds each user's live sessions: a login
	// beyond it revokes the least recently used (Policy).
	SettingMaxSessionsPerUser = "max-sessions-per-user"
	// The login throttle's limits and window (Policy.LoginLimits).
	SettingLoginFailLimit           = "login-fail-limit"
	SettingLoginFailLimitPerAddress = "login-fail-limit-per-address"
	SettingLoginFailWindow          = "login-fail-window"
	// SettingEventsRetention is how long purge keeps audit events
	// (Policy).
	SettingEventsRetention = "events-retention"
	// SettingTrustedProxies are the reverse proxies whose forwarding
	// header names the client (Policy).
	SettingTrustedProxies = "trusted-proxies"
)

// Defaults the statements that read a setting write too.
const (
	// endSessionsDefault is the default of
	// SettingEndSessionsOnCredentialChange, which the session check's SQL
	// writes too.
	endSessionsDefault = "true"
	// maxSessionLifetimeDefault is a month: long enough for "remember
	// me", short enough that a leaked cookie does not outlive the year.
	maxSessionLifetimeDefault = "30d"
)

// maxLoginFailures bounds the login throttle's limits.
const maxLoginFailures = 1_000_000

// Settings are every setting, in the order settings show lists them.
var Settings = []Setting{
	{Name: SettingEndSessionsOnCredentialChange, Type: SettingBool, Default: endSessionsDefault,
		Description: "end a session for good when its role's password or any other attribute changes, or the role may no longer log in " +
			"(NOLOGIN, VALID UNTIL past, dropped); false: refuse it only while its role cannot log in"},
	{Name: SettingMaxSessionLifetime, Type: SettingDuration, Default: maxSessionLifetimeDefault, Least: time.Minute, Zero: "set no cap",
		Description: "the longest a session may last: login --expire-after and serve --session-lifetime beyond it are refused; 0 for no cap"},
	{Name: SettingIdleTimeout, Type: SettingDuration, Default: "0", Least: time.Minute, Zero: "turn it off",
		Description: "refuse a session not used for this long, as an expired one; list and show read it as idle; " +
			"longer than serve's --touch-interval; 0 for off"},
	{Name: SettingMaxSessionsPerUser, Type: SettingInt, Default: "0", Most: 100_000, Zero: "set no limit",
		Description: "a login beyond this many live sessions of its user revokes the least recently used; 0 for no limit"},
	{Name: SettingLoginFailLimit, Type: SettingInt, Default: "10", Most: maxLoginFailures, Zero: "set no such limit",
		Description: "failed API logins of one user from one client address within login-fail-window before that pair gets 429; 0 for no such limit"},
	{Name: SettingLoginFailLimitPerAddress, Type: SettingInt, Default: "100", Most: maxLoginFailures, Zero: "set no such limit",
		Description: "failed API logins from one client address, of any users, within login-fail-window before it gets 429; 0 for no such limit"},
	{Name: SettingLoginFailWindow, Type: SettingDuration, Default: "15m", Least: time.Second, Zero: "turn the login throttle off",
		Description: "how long a failed API login counts against its address; 0 turns the login throttle off"},
	// A year: PCI DSS v4.0 requirement 10.5.1 keeps audit log history
	// for at least 12 months.
	{Name: SettingEventsRetention, Type: SettingDuration, Default: "365d", Least: time.Hour, Zero: "keep every event",
		Description: "purge (and serve's background purge) deletes audit events older than this, at least 1h; 0 keeps every event. " +
			"The default, a year, is what PCI DSS v4.0 requirement 10.5.1 asks audit logs to keep"},
	{Name: SettingTrustedProxies, Type: SettingNetworks, Default: "",
		Description: "addresses and CIDR networks, separated by commas, of the reverse proxies whose forwarding header serve reads the client's address from; " +
			"empty: none, the header is ignored"},
}

// LookupSetting returns the setting name, or an error naming the settings
// there are.
func LookupSetting(name string) (Setting, error) {
	for _, s := range Settings {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(Settings))
	for i, s := range Settings {
		names[i] = s.Name
	}
	return Setting{}, fmt.Errorf("unknown setting %q: want one of %s", name, strings.Join(names, ", "))
}

// Parse returns value as the setting stores it, or an error naming the
// value, the setting and what its type accepts.
func (s Setting) Parse(value string) (string, error) {
	v, err := s.Check(value)
	if err != nil {
		return "", fmt.Errorf("invalid value %q for %s: %w", value, s.Name, err)
	}
	return v, nil
}

// Check returns value as the setting stores it, or an error saying what
// its type accepts, for the caller to say which value it refused: Parse,
// or a flag of the setting.
func (s Setting) Check(value string) (string, error) {
	switch s.Type {
	case SettingBool:
		switch strings.ToLower(value) {
		case "true", "on":
			return "true", nil
		case "false", "off":
			return "false", nil
		}
		return "", errors.New("want true or false (or on, off)")
	case SettingDuration:
		d, err := s.duration(value)
		if d == 0 && err == nil {
			return "0", nil
		}
		return value, err
	case SettingInt:
		n, err := s.number(value)
		return strconv.Itoa(n), err
	case SettingNetworks:
		_, err := s.networks(value)
		return value, err
	}
	return "", fmt.Errorf("setting %s has unknown type %q", s.Name, s.Type)
}

// duration reads value of a duration setting.
func (s Setting) duration(value string) (time.Duration, error) {
	d, err := ParseDurationOrZero(value, s.Least)
	if err != nil {
		return 0, fmt.Errorf("%w; or 0 to %s", err, s.Zero)
	}
	return d, nil
}

// number reads value of a number setting.
func (s Setting) number(value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 || n > s.Most || value[0] == '+' {
		return 0, fmt.Errorf("want a whole number from 1 to %d; or 0 to %s", s.Most, s.Zero)
	}
	return n, nil
}

// networks reads value of a networks setting: none when empty.
func (s Setting) networks(value string) ([]netip.Prefix, error) {
	if value == "" {
		return nil, nil
	}
	return ParseNetworks(value)
}

// Origins of a setting's value.
const (
	OriginDefault  = "default"
	OriginDatabase = "database"
	// OriginFlag is a value given to one process (a flag or an environment
	// variable), which wins over the database's for that process.
	OriginFlag = "flag"
)

// SettingValue is a setting with the value a process applies.
type SettingValue struct {
	Setting
	Value string
	// Origin is OriginDefault, OriginDatabase or OriginFlag.
	Origin string
	// SetAt and SetBy say when and by whom a value of the database was
	// set; zero for a default or a flag.
	SetAt time.Time
	SetBy string
	// Stored is the database's value (or the default) where a flag's
	// wins: what the process would apply without the flag.
	Stored string
}

// DefaultSettings are every setting with its default, in the order of
// Settings.
func DefaultSettings() []SettingValue {
	out := make([]SettingValue, len(Settings))
	for i, s := range Settings {
		out[i] = SettingValue{Setting: s, Value: s.Default, Origin: OriginDefault}
	}
	return out
}

const listSettings = `SELECT name, value, set_at, set_by FROM system.settings`

// ShowSettings returns every setting with its value in the database, in
// the order of Settings. Rows of settings this binary does not know are
// left out.
func ShowSettings(ctx context.Context, db DBTX) ([]SettingValue, error) {
	rows, err := db.Query(ctx, inSchema(db, listSettings))
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	stored := map[string]SettingValue{}
	for rows.Next() {
		var v SettingValue
		if err := rows.Scan(&v.Name, &v.Value, &v.SetAt, &v.SetBy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read settings: %w", err)
		}
		stored[v.Name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := DefaultSettings()
	for i, d := range out {
		if v, ok := stored[d.Name]; ok {
			v.Setting, v.Origin = d.Setting, OriginDatabase
			out[i] = v
		}
	}
	return out, nil
}

// Pin gives the settings of pinned (by name, values as Check returns them:
// a process's flags) those values, with OriginFlag, keeping what they
// replace in Stored.
func Pin(values []SettingValue, pinned map[string]string) []SettingValue {
	out := slices.Clone(values)
	for i, v := range out {
		if p, ok := pinned[v.Name]; ok {
			out[i] = SettingValue{Setting: v.Setting, Value: p, Origin: OriginFlag, Stored: v.Value}
		}
	}
	return out
}

// Policy is what the settings that Go code applies say, typed: the other
// settings are read by the statements that apply them.
type Policy struct {
	// IdleTimeout, when positive, refuses a session not used for that
	// long (CheckPolicy), and makes listings read it as idle.
	IdleTimeout time.Duration
	// MaxSessionsPerUser, when positive, bounds each user's live sessions
	// (LoginOptions.MaxSessions; a login without it reads the setting
	// itself).
	MaxSessionsPerUser int
	// LoginLimits are the login throttle's.
	LoginLimits LoginLimits
	// EventsRetention is how long purge keeps audit events
	// (PurgeOptions.EventsOlderThan); 0 keeps them all.
	EventsRetention time.Duration
	// TrustedProxies are the networks of the reverse proxies whose
	// forwarding header names the client.
	TrustedProxies []netip.Prefix
}

// PolicyOf reads the policy of values (ShowSettings, Pin). A value the
// database holds that its setting does not accept, written there by hand,
// is an error naming it; pinned values are checked before they are pinned.
func PolicyOf(values []SettingValue) (Policy, error) {
	var p Policy
	for _, v := range values {
		var err error
		switch v.Name {
		case SettingIdleTimeout:
			p.IdleTimeout, err = v.duration(v.Value)
		case SettingMaxSessionsPerUser:
			p.MaxSessionsPerUser, err = v.number(v.Value)
		case SettingLoginFailLimit:
			p.LoginLimits.PerUserAddress, err = v.number(v.Value)
		case SettingLoginFailLimitPerAddress:
			p.LoginLimits.PerAddress, err = v.number(v.Value)
		case SettingLoginFailWindow:
			p.LoginLimits.Window, err = v.duration(v.Value)
		case SettingEventsRetention:
			p.EventsRetention, err = v.duration(v.Value)
		case SettingTrustedProxies:
			p.TrustedProxies, err = v.networks(v.Value)
		}
		if err != nil {
			return Policy{}, storedValueError(v.Name, v.Value, err)
		}
	}
	return p, nil
}

// storedNumber reads the value of number setting name a statement read
// from the table, or its default when there is none (nil).
func storedNumber(name string, stored *string) (int, error) {
	s, err := LookupSetting(name)
	if err != nil {
		return 0, err
	}
	value := s.Default
	if stored != nil {
		value = *stored
	}
	n, err := s.number(value)
	if err != nil {
		return 0, storedValueError(name, value, err)
	}
	return n, nil
}

// storedValueError is the error of a value of setting name in the database
// that the setting refuses: written there by hand, not by settings set.
func storedValueError(name, value string, err error) error {
	return fmt.Errorf("invalid value %q for %s in the database: %w; set a valid one with auth-session settings set, or reset it", value, name, err)
}

// ReadPolicy reads the settings of db once, for a command's run, with the
// values of pinned (its flags) winning over the database's.
func ReadPolicy(ctx context.Context, db DBTX, pinned map[string]string) (Policy, error) {
	values, err := ShowSettings(ctx, db)
	if err != nil {
		return Policy{}, err
	}
	return PolicyOf(Pin(values, pinned))
}
