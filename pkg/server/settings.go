package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// SettingsRefreshInterval is how often a serving Server reads the settings
// from the database (auth-session settings): a change reaches it at most
// this late, plus the time one read takes. The read is one small query of
// a table of a few rows, so a few seconds cost the database nothing worth
// counting, and are soon enough for an operator who changed a policy.
const SettingsRefreshInterval = 5 * time.Second

// settings are the policies a Server applies (sql.Policy): the database's
// settings, read by RefreshSettings, with those pinned for the process
// (Config.PinnedSettings) in place of the database's.
type settings struct {
	pinned map[string]string
	// current is read by every request, and replaced whole by a refresh.
	current atomic.Pointer[sql.Policy]

	// mu makes refreshes, of the loop and of callers of RefreshSettings,
	// one at a time; it guards the fields below.
	mu sync.Mutex
	// stored are the database's values (or the defaults) at the last
	// read, by name; nil before the first.
	stored map[string]string
	// failing is set while reads fail, so that an outage is logged once.
	failing bool
}

// newSettings checks pinned (by name, values as auth-session settings set
// takes them) and starts with the defaults, pinned values in their place.
func newSettings(pinned map[string]string) (*settings, error) {
	checked := make(map[string]string, len(pinned))
	for name, value := range pinned {
		setting, err := sql.LookupSetting(name)
		if err != nil {
			return nil, err
		}
		if checked[name], err = setting.Parse(value); err != nil {
			return nil, err
		}
	}
	policy, err := sql.PolicyOf(sql.Pin(sql.DefaultSettings(), checked))
	if err != nil {
		return nil, err
	}
	st := &settings{pinned: checked}
	st.current.Store(&policy)
	return st, nil
}

// policy is what the settings say now.
func (s *Server) policy() *sql.Policy {
	return s.settings.current.Load()
}

// RefreshSettings reads the settings from the database and applies them
// from the next request on: the idle timeout of the session check and of
// the listings, the login's session limit, the login throttle, the trusted
// proxies and the background purge's events retention. A setting pinned
// by Config.PinnedSettings keeps its pinned value. Serve calls it every
// SettingsRefreshInterval; a program calls it before Serve, to apply the
// database's settings from the first request and to fail early when they
// cannot be read. The first call logs each setting's value and origin,
// later ones each change. A failed read keeps the values in force and
// returns its error, logged once until a read succeeds again.
func (s *Server) RefreshSettings(ctx context.Context) error {
	st := s.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	values, err := sql.ShowSettings(ctx, s.db)
	var policy sql.Policy
	if err == nil {
		policy, err = sql.PolicyOf(sql.Pin(values, st.pinned))
	}
	if err != nil {
		if !st.failing && ctx.Err() == nil {
			s.log.Warn("cannot read the settings: keeping the values in force until they can be read", "err", err)
		}
		st.failing = true
		return err
	}
	if st.failing {
		st.failing = false
		s.log.Info("the settings can be read again")
	}
	first := st.stored == nil
	stored := make(map[string]string, len(values))
	for _, v := range values {
		stored[v.Name] = v.Value
	}
	old := st.stored
	st.stored = stored
	// The session check first: a listing that reads a session as idle
	// finds it refused too.
	s.verifier.SetIdleTimeout(policy.IdleTimeout)
	st.current.Store(&policy)

	idleChanged := first
	for _, v := range sql.Pin(values, st.pinned) {
		switch {
		case first && v.Origin == sql.OriginFlag:
			s.log.Info("setting", "name", v.Name, "value", v.Value, "origin", v.Origin, "database", v.Stored)
		case first:
			s.log.Info("setting", "name", v.Name, "value", v.Value, "origin", v.Origin)
		case old[v.Name] == stored[v.Name]:
		case v.Origin == sql.OriginFlag:
			s.log.Info("setting changed in the database; this process keeps its flag's value",
				"name", v.Name, "database", v.Stored, "value", v.Value)
		default:
			s.log.Info("setting changed", "name", v.Name, "old", old[v.Name], "value", v.Value, "origin", v.Origin)
			idleChanged = idleChanged || v.Name == sql.SettingIdleTimeout
		}
	}
	if idleChanged && policy.IdleTimeout > 0 && policy.IdleTimeout <= s.cfg.TouchInterval {
		s.log.Warn(fmt.Sprintf("the idle timeout is not longer than --touch-interval: sessions in use may be refused as idle, "+
			"their last use written up to --touch-interval late; lower --touch-interval or raise the setting %s", sql.SettingIdleTimeout),
			"idle_timeout", policy.IdleTimeout, "touch_interval", s.cfg.TouchInterval)
	}
	return nil
}

// refreshSettingsLoop calls RefreshSettings every SettingsRefreshInterval
// until ctx is canceled.
func (s *Server) refreshSettingsLoop(ctx context.Context) {
	// The error is logged, once per outage, by RefreshSettings.
	every(ctx, SettingsRefreshInterval, func() { _ = s.RefreshSettings(ctx) })
}
