package sql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An EventFilter is written two ways: the events command's flags and the
// admin events route's query parameters, which share their names.
// EventFields declares each filter once, with its one parser, and
// ParseEventFilter reads either by the one set of rules, as
// SelectionFields and ParseSelection do for a selection of sessions.

// EventField is one filter of the audit trail.
type EventField struct {
	// Name is the query parameter, and the flag without its dashes.
	Name string
	// List is true for a filter given any number of times.
	List bool
	// set parses one value v into f.
	set func(f *EventFilter, v string, now time.Time) error
}

// EventFields are the filters of the audit trail, in the order errors and
// help list them.
var EventFields = []*EventField{
	{Name: "user", set: func(f *EventFilter, v string, _ time.Time) error {
		f.Username = v
		return CheckRoleName(v)
	}},
	{Name: "event", List: true, set: func(f *EventFilter, v string, _ time.Time) error {
		e, err := ParseEventType(v)
		f.Events = append(f.Events, e)
		return err
	}},
	{Name: "session", set: func(f *EventFilter, v string, _ time.Time) (err error) {
		f.SessionID, err = ParseSessionID(v)
		return err
	}},
	{Name: "ip", set: func(f *EventFilter, v string, _ time.Time) (err error) {
		f.Network, err = ParseNetwork(v)
		return err
	}},
	{Name: "actor", set: func(f *EventFilter, v string, _ time.Time) error {
		f.Actor = v
		return CheckRoleName(v)
	}},
	{Name: "since", set: func(f *EventFilter, v string, now time.Time) (err error) {
		f.Since, err = ParseInstant(v, now)
		return err
	}},
	{Name: "until", set: func(f *EventFilter, v string, now time.Time) (err error) {
		f.Until, err = ParseInstant(v, now)
		return err
	}},
}

// EventFieldNames lists the filters' names, for messages.
func EventFieldNames() []string {
	names := make([]string, len(EventFields))
	for i, f := range EventFields {
		names[i] = f.Name
	}
	return names
}

// EventFieldError is a value of an event filter that is not valid.
type EventFieldError struct {
	Field *EventField
	Value string
	Err   error
}

func (e *EventFieldError) Error() string {
	return fmt.Sprintf("invalid %s %q: %v", e.Field.Name, e.Value, e.Err)
}

func (e *EventFieldError) Unwrap() error { return e.Err }

// EventRangeError is an until no later than the since: a filter of
// nothing, which is a mistake rather than a question.
type EventRangeError struct{ Since, Until string }

func (e *EventRangeError) Error() string {
	return fmt.Sprintf("until %s is not later than since %s: no event is in between", e.Until, e.Since)
}

// ParseEventFilter reads an EventFilter from values, which gives the values
// of each filter a source holds (nil when it is absent): each value parsed
// by its filter, a filter that is not a list given once, until later than
// since, the time bounds checked against now.
func ParseEventFilter(values func(*EventField) []string, now time.Time) (EventFilter, error) {
	var f EventFilter
	given := map[string]string{}
	for _, field := range EventFields {
		vs := values(field)
		if !field.List && len(vs) > 1 {
			return f, &EventFieldError{Field: field, Value: strings.Join(vs, ","), Err: errors.New("given more than once: give it once")}
		}
		for _, v := range vs {
			if err := field.set(&f, v, now); err != nil {
				return f, &EventFieldError{Field: field, Value: v, Err: err}
			}
			given[field.Name] = v
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.laterThan(f.Since) {
		return f, &EventRangeError{Since: given["since"], Until: given["until"]}
	}
	return f, nil
}

// ParseEventType reads an event type: one of EventTypes. The error lists
// them.
func ParseEventType(v string) (string, error) {
	for _, e := range EventTypes {
		if v == e {
			return e, nil
		}
	}
	return "", fmt.Errorf("want one of %s", strings.Join(EventTypes, ", "))
}

// ParseSessionID reads a session id as list prints it: a whole number from
// 1 up, without a sign.
func ParseSessionID(v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 || strings.HasPrefix(v, "+") {
		return 0, errors.New("want a session id, a whole number from 1 up, as list prints it")
	}
	return id, nil
}
