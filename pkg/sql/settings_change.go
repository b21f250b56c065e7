package sql

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

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
