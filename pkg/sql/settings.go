package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Settings are kept in the database (system.settings), so that every serve
// and command over it applies the same values: a row per setting changed
// from its default. A statement that depends on one reads it in the same
// statement, so a change applies to the next statement of every process.

// Setting is one setting: its name, the type of its values, its default
// and what it does. Adding a setting is adding an entry to Settings.
type Setting struct {
	Name        string
	Type        SettingType
	Default     string
	Description string
}

// SettingType is the kind of value a setting takes.
type SettingType string

// The types of settings.
const (
	// SettingBool is true or false (on and off are read as those).
	SettingBool SettingType = "bool"
	// SettingDuration is a duration as the flags write one (90m, 7d, 1w),
	// or 0 for none.
	SettingDuration SettingType = "duration"
)

// SettingMaxSessionLifetime caps how long a session may last: a login that
// asks for longer is refused, naming the cap (see LifetimeCapError); 0 for
// no cap.
const SettingMaxSessionLifetime = "max-session-lifetime"

// maxSessionLifetimeDefault is a month: long enough for "remember me", short
// enough that a leaked cookie does not outlive the year.
const maxSessionLifetimeDefault = "30d"

// SettingEndSessionsOnCredentialChange ends a session for good when its
// role's row in pg_authid changes, or the role may no longer log in (see
// CredentialsChanged); off, a session is refused only while its role
// cannot log in, and comes back when it can.
const SettingEndSessionsOnCredentialChange = "end-sessions-on-credential-change"

// endSessionsDefault is its default, which the session check's SQL writes
// too.
const endSessionsDefault = "true"

// Settings are every setting, in the order settings show lists them.
var Settings = []Setting{
	{Name: SettingEndSessionsOnCredentialChange, Type: SettingBool, Default: endSessionsDefault,
		Description: "end a session for good when its role's password or any other attribute changes, or the role may no longer log in " +
			"(NOLOGIN, VALID UNTIL past, dropped); false: refuse it only while its role cannot log in"},
	{Name: SettingMaxSessionLifetime, Type: SettingDuration, Default: maxSessionLifetimeDefault,
		Description: "the longest a session may last: login --expire-after and serve --session-lifetime beyond it are refused; 0 for no cap"},
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

// Parse returns value as the setting stores it, or an error naming what
// its type accepts.
func (s Setting) Parse(value string) (string, error) {
	switch s.Type {
	case SettingBool:
		switch strings.ToLower(value) {
		case "true", "on":
			return "true", nil
		case "false", "off":
			return "false", nil
		}
		return "", fmt.Errorf("invalid value %q for %s: want true or false (or on, off)", value, s.Name)
	case SettingDuration:
		if value == "0" {
			return "0", nil
		}
		if _, err := ParseDuration(value, time.Minute); err != nil {
			return "", fmt.Errorf("invalid value %q for %s: %w; or 0 for none", value, s.Name, err)
		}
		return value, nil
	}
	return "", fmt.Errorf("setting %s has unknown type %q", s.Name, s.Type)
}

// Origins of a setting's value.
const (
	OriginDefault  = "default"
	OriginDatabase = "database"
)

// SettingValue is a setting with the value it has in a database.
type SettingValue struct {
	Setting
	Value string
	// Origin is OriginDefault or OriginDatabase.
	Origin string
	// SetAt and SetBy say when and by whom a value of the database was
	// set; zero for a default.
	SetAt time.Time
	SetBy string
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
	out := make([]SettingValue, len(Settings))
	for i, s := range Settings {
		v, ok := stored[s.Name]
		if !ok {
			out[i] = SettingValue{Setting: s, Value: s.Default, Origin: OriginDefault}
			continue
		}
		v.Setting, v.Origin = s, OriginDatabase
		out[i] = v
	}
	return out, nil
}

// EventSettingChanged records a setting's change: its name, old and new
// value.
const EventSettingChanged = "setting.changed"

// SettingChange is what SetSetting or ResetSetting did.
type SettingChange struct {
	Name     string
	Old, New string
	// Changed is false when nothing was written, and no event recorded:
	// the database held that value already, or had no value to reset. A
	// default set explicitly is written (its origin is then the
	// database), and recorded, although Old and New are the same.
	Changed bool
}

const (
	lockSetting   = `SELECT value FROM system.settings WHERE name = $1 FOR UPDATE`
	insertSetting = `INSERT INTO system.settings (name, value, set_by) VALUES ($1, $2, $3)`
	updateSetting = `UPDATE system.settings SET value = $2, set_at = now(), set_by = $3 WHERE name = $1`
	deleteSetting = `DELETE FROM system.settings WHERE name = $1`
)

// SetSetting sets setting name to value (checked by the setting's Parse)
// in the database, with a setting.changed event of the old and new value,
// in one transaction. By.Name empty records the connected user.
func (s *Store) SetSetting(ctx context.Context, name, value string, by Actor) (SettingChange, error) {
	setting, err := LookupSetting(name)
	if err != nil {
		return SettingChange{}, err
	}
	if value, err = setting.Parse(value); err != nil {
		return SettingChange{}, err
	}
	return s.changeSetting(ctx, setting, &value, by)
}

// ResetSetting gives setting name its default back, with a setting.changed
// event, in one transaction.
func (s *Store) ResetSetting(ctx context.Context, name string, by Actor) (SettingChange, error) {
	setting, err := LookupSetting(name)
	if err != nil {
		return SettingChange{}, err
	}
	return s.changeSetting(ctx, setting, nil, by)
}

// changeSetting stores value, or deletes the row when value is nil. Two
// first changes at once both find no row to lock; the second's insert then
// fails on the primary key, and it runs again and finds the first's row.
func (s *Store) changeSetting(ctx context.Context, setting Setting, value *string, by Actor) (SettingChange, error) {
	var change SettingChange
	for {
		err := runInTx(ctx, s.db, func(tx pgx.Tx) error {
			change = SettingChange{Name: setting.Name, Old: setting.Default, New: setting.Default}
			stored := true
			err := tx.QueryRow(ctx, inSchema(tx, lockSetting), setting.Name).Scan(&change.Old)
			if errors.Is(err, pgx.ErrNoRows) {
				stored = false
			} else if err != nil {
				return err
			}
			if value != nil {
				change.New = *value
			}
			if value == nil && !stored || value != nil && stored && change.New == change.Old {
				return nil
			}
			if by.Name == "" {
				if err := tx.QueryRow(ctx, `SELECT current_user`).Scan(&by.Name); err != nil {
					return err
				}
			}
			switch {
			case value == nil:
				_, err = tx.Exec(ctx, inSchema(tx, deleteSetting), setting.Name)
			case stored:
				_, err = tx.Exec(ctx, inSchema(tx, updateSetting), setting.Name, *value, by.Name)
			default:
				_, err = tx.Exec(ctx, inSchema(tx, insertSetting), setting.Name, *value, by.Name)
			}
			if err != nil {
				return err
			}
			change.Changed = true
			return RecordEvent(ctx, tx, by.event(EventSettingChanged, "", nil,
				map[string]any{"setting": setting.Name, "old": change.Old, "new": change.New}))
		})
		if SQLState(err) == "23505" {
			continue
		}
		if err != nil {
			return SettingChange{}, fmt.Errorf("change setting %s: %w", setting.Name, err)
		}
		return change, nil
	}
}

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
