package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LifetimeCapError is a login that asks for a longer session than the
// max-session-lifetime setting allows.
type LifetimeCapError struct {
	Asked, Cap time.Duration
	// CapText is the setting's value as written (30d).
	CapText string
}

func (e *LifetimeCapError) Error() string {
	return fmt.Sprintf("a session of %s is longer than the maximum session lifetime, %s (setting %s)", e.Asked, e.CapText, SettingMaxSessionLifetime)
}

const readSetting = `SELECT value FROM system.settings WHERE name = $1`

// settingValue returns the value of setting name in the database, or its
// default.
func settingValue(ctx context.Context, db DBTX, name string) (string, error) {
	s, err := LookupSetting(name)
	if err != nil {
		return "", err
	}
	var v string
	switch err := db.QueryRow(ctx, inSchema(db, readSetting), name).Scan(&v); {
	case errors.Is(err, pgx.ErrNoRows):
		return s.Default, nil
	case err != nil:
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// CheckLifetime returns a *LifetimeCapError when asked is longer than the
// max-session-lifetime setting.
func CheckLifetime(ctx context.Context, db DBTX, asked time.Duration) error {
	text, err := settingValue(ctx, db, SettingMaxSessionLifetime)
	if err != nil {
		return err
	}
	return lifetimeWithin(asked, text)
}

// lifetimeWithin returns a *LifetimeCapError when asked is longer than the
// cap written as text (0 for none).
func lifetimeWithin(asked time.Duration, text string) error {
	if text == "0" {
		return nil
	}
	limit, err := ParseDuration(text, time.Minute)
	if err != nil {
		return fmt.Errorf("setting %s %q: %w", SettingMaxSessionLifetime, text, err)
	}
	if asked > limit {
		return &LifetimeCapError{Asked: asked, Cap: limit, CapText: text}
	}
	return nil
}
