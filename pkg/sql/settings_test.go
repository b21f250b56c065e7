package sql

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSettingParse: each setting's good values as it stores them, and its
// bad ones refused by an error naming the value, the setting and what it
// accepts.
func TestSettingParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		want        string // "" for an error
		wantErr     string
	}{
		{SettingIdleTimeout, "30m", "30m", ""},
		{SettingIdleTimeout, "0s", "0", ""},
		{SettingIdleTimeout, "30s", "", `invalid value "30s" for idle-timeout: must be at least 1m0s; or 0 to turn it off`},
		{SettingIdleTimeout, "soon", "", `invalid value "soon" for idle-timeout: want a duration such as 90m`},
		{SettingIdleTimeout, " 1h", "", `invalid value " 1h" for idle-timeout: want a duration such as 90m, 4h30m, 7d or 1w, without spaces`},
		{SettingMaxSessionsPerUser, "5", "5", ""},
		{SettingMaxSessionsPerUser, "0", "0", ""},
		{SettingMaxSessionsPerUser, "-1", "", `invalid value "-1" for max-sessions-per-user: want a whole number from 1 to 100000; or 0 to set no limit`},
		{SettingMaxSessionsPerUser, "100001", "", `invalid value "100001" for max-sessions-per-user: want a whole number from 1 to 100000`},
		{SettingMaxSessionsPerUser, "+3", "", `invalid value "+3" for max-sessions-per-user`},
		{SettingMaxSessionsPerUser, "three", "", `invalid value "three" for max-sessions-per-user`},
		{SettingLoginFailLimit, "1000000", "1000000", ""},
		{SettingLoginFailLimit, "1000001", "", `invalid value "1000001" for login-fail-limit: want a whole number from 1 to 1000000; or 0 to set no such limit`},
		{SettingLoginFailLimitPerAddress, "", "", `invalid value "" for login-fail-limit-per-address: want a whole number`},
		{SettingLoginFailWindow, "1s", "1s", ""},
		{SettingLoginFailWindow, "0", "0", ""},
		{SettingLoginFailWindow, "500ms", "", `invalid value "500ms" for login-fail-window: must be at least 1s; or 0 to turn the login throttle off`},
		{SettingEventsRetention, "1h", "1h", ""},
		{SettingEventsRetention, "0d", "0", ""},
		{SettingEventsRetention, "59m", "", `invalid value "59m" for events-retention: must be at least 1h0m0s; or 0 to keep every event`},
		{SettingEventsRetention, "1000000w", "", `invalid value "1000000w" for events-retention: too large`},
		{SettingTrustedProxies, "", "", ""},
		{SettingTrustedProxies, "10.0.0.0/8, 127.0.0.1", "10.0.0.0/8, 127.0.0.1", ""},
		{SettingTrustedProxies, "10.0.0.0/8,proxy.local", "", `invalid value "10.0.0.0/8,proxy.local" for trusted-proxies: "proxy.local" is not an address or a network: want addresses and CIDR networks`},
		{SettingTrustedProxies, "10.0.0.0/8,", "", `invalid value "10.0.0.0/8," for trusted-proxies: "" is not an address`},
		{SettingEndSessionsOnCredentialChange, "maybe", "", `invalid value "maybe" for end-sessions-on-credential-change: want true or false`},
		{SettingMaxSessionLifetime, "forever", "", `invalid value "forever" for max-session-lifetime: want a duration`},
	}
	for _, tt := range tests {
		s, err := LookupSetting(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Parse(tt.value)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("%s %q: %q, %v; want %q", tt.name, tt.value, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s %q: %q, %v; want an error containing %q", tt.name, tt.value, got, err, tt.wantErr)
		}
	}
}

// TestEverySettingHasAValidDefault: each default is a value its setting
// takes, and each setting says what it does.
func TestEverySettingHasAValidDefault(t *testing.T) {
	t.Parallel()
	for _, s := range Settings {
		if got, err := s.Parse(s.Default); err != nil || got != s.Default {
			t.Errorf("%s: default %q reads as %q, %v", s.Name, s.Default, got, err)
		}
		if s.Description == "" {
			t.Errorf("%s has no description", s.Name)
		}
	}
	p, err := PolicyOf(DefaultSettings())
	want := Policy{LoginLimits: LoginLimits{PerUserAddress: 10, PerAddress: 100, Window: 15 * time.Minute}, EventsRetention: 365 * 24 * time.Hour}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Errorf("the defaults' policy: %+v, %v; want %+v", p, err, want)
	}
}

func TestParseNetworks(t *testing.T) {
	t.Parallel()
	if _, err := ParseNetworks("10.0.0.0/8,proxy.example.com"); err == nil {
		t.Error("a host name among the networks was accepted; want an error naming it")
	}
	nets, err := ParseNetworks("10.0.0.0/8, 127.0.0.1,::1, ::ffff:192.0.2.0/120")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.0.2.0/24")}
	if err != nil || !slices.Equal(nets, want) {
		t.Errorf("ParseNetworks: %v, %v; want %v", nets, err, want)
	}
}

// TestPolicySettings: each setting of the policy set in the database, then
// reset, is read back typed; a pinned value wins over the database's; a bad
// value refused by SetSetting changes nothing, and one written by hand
// makes ReadPolicy fail, naming it.
func TestPolicySettings(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	store := NewStore(conn)
	ctx := testContext(t)
	by := Actor{Name: "ops", Via: "cli"}
	tests := []struct {
		name, value, bad string
		want             func(Policy) bool
	}{
		{SettingIdleTimeout, "2h", "1s", func(p Policy) bool { return p.IdleTimeout == 2*time.Hour }},
		{SettingMaxSessionsPerUser, "3", "-3", func(p Policy) bool { return p.MaxSessionsPerUser == 3 }},
		{SettingLoginFailLimit, "4", "x", func(p Policy) bool { return p.LoginLimits.PerUserAddress == 4 }},
		{SettingLoginFailLimitPerAddress, "0", "1e3", func(p Policy) bool { return p.LoginLimits.PerAddress == 0 }},
		{SettingLoginFailWindow, "0", "1ms", func(p Policy) bool { return p.LoginLimits.Window == 0 && p.LoginLimits.Off() }},
		{SettingEventsRetention, "90d", "10m", func(p Policy) bool { return p.EventsRetention == 90*24*time.Hour }},
		{SettingTrustedProxies, "10.0.0.0/8", "10.0.0.0/33", func(p Policy) bool {
			return slices.Equal(p.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
		}},
	}
	defaults, err := ReadPolicy(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if _, err := store.SetSetting(ctx, tt.name, tt.bad, by); err == nil || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
			t.Errorf("set %s %q: %v; want an error naming the value", tt.name, tt.bad, err)
		}
		if n := mustCount(t, conn, "system.settings"); n != 0 {
			t.Fatalf("%d settings rows after a refused change; want none", n)
		}
		if _, err := store.SetSetting(ctx, tt.name, tt.value, by); err != nil {
			t.Fatal(err)
		}
		p, err := ReadPolicy(ctx, conn, nil)
		if err != nil || !tt.want(p) {
			t.Errorf("after set %s %s: %+v, %v", tt.name, tt.value, p, err)
		}
		setting, _ := LookupSetting(tt.name)
		if p, err := ReadPolicy(ctx, conn, map[string]string{tt.name: setting.Default}); err != nil || !reflect.DeepEqual(p, defaults) {
			t.Errorf("%s pinned to its default over %s in the database: %+v, %v; want the defaults' %+v", tt.name, tt.value, p, err, defaults)
		}
		if _, err := store.ResetSetting(ctx, tt.name, by); err != nil {
			t.Fatal(err)
		}
		if p, err := ReadPolicy(ctx, conn, nil); err != nil || !reflect.DeepEqual(p, defaults) {
			t.Errorf("after reset %s: %+v, %v; want the defaults' %+v", tt.name, p, err, defaults)
		}
	}
	if n := len(eventsOf(t, conn, "", EventSettingChanged)); n != 2*len(tests) {
		t.Errorf("%d setting.changed events; want %d, a set and a reset of each", n, 2*len(tests))
	}
	if _, err := conn.Exec(ctx, `INSERT INTO system.settings (name, value, set_by) VALUES ($1, 'soon', 'psql')`, SettingIdleTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPolicy(ctx, conn, nil); err == nil || !strings.Contains(err.Error(), `invalid value "soon" for idle-timeout in the database`) {
		t.Errorf("a bad value in the database: %v; want an error naming it", err)
	}
}
