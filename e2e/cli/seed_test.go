package clie2e

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
)

var secureCookie = regexp.MustCompile(`^session=([A-Za-z0-9+/]+=*); Path=/; HttpOnly; Secure$`)

// session is a row of list, logout or login --format json.
type session struct {
	Username   string     `json:"username"`
	SessionID  string     `json:"id"`
	Cookie     string     `json:"cookie"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt time.Time  `json:"last_used_at"`
}

// UnmarshalJSON reads a row of list or logout, whose session id is "id",
// or of login, whose id is "session_id", as in the HTTP API's login.
func (s *session) UnmarshalJSON(b []byte) error {
	type fields session
	var row struct {
		fields
		LoginID string `json:"session_id"`
	}
	if err := json.Unmarshal(b, &row); err != nil {
		return err
	}
	*s = session(row.fields)
	if s.SessionID == "" {
		s.SessionID = row.LoginID
	}
	return nil
}

// parseJSON decodes a --format json output, an array of row objects.
func parseJSON(t *testing.T, out string) []session {
	t.Helper()
	var rows []session
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("--format json output does not parse: %v\n%s", err, out)
	}
	return rows
}

func byID(rows []session) map[string]session {
	m := map[string]session{}
	for _, r := range rows {
		m[r.SessionID] = r
	}
	return m
}

// TestSeedExamples runs the examples of cockroach's auth-session page, in
// order, with the real binary.
func TestSeedExamples(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	webUser := newRole(t, dbURL, "web_user", "LOGIN")
	other := newRole(t, dbURL, "other_user", "LOGIN")

	// $ auth-session login web_user  (stdout is a pipe here: tsv)
	r := mustRun(t, dbURL, "login", webUser)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "username\tsession ID\tauthentication cookie" {
		t.Fatalf("login output:\n%s\nwant a tsv header and one row", r.stdout)
	}
	cells := strings.Split(lines[1], "\t")
	if len(cells) != 3 || cells[0] != webUser || !secureCookie.MatchString(cells[2]) {
		t.Fatalf("login row %q: want %s, an id and session=...; Path=/; HttpOnly; Secure", lines[1], webUser)
	}
	id, _, err := auth.DecodeValue(secureCookie.FindStringSubmatch(cells[2])[1])
	if err != nil || cells[1] != strconv.FormatInt(id, 10) {
		t.Errorf("cookie decodes to session %d (%v), login printed %s", id, err, cells[1])
	}
	first := cells[1]

	// $ auth-session login web_user --expire-after=4h30m
	custom := parseJSON(t, mustRun(t, dbURL, "login", webUser, "--expire-after=4h30m", "--format", "json").stdout)
	if len(custom) != 1 || custom[0].Username != webUser || !secureCookie.MatchString(custom[0].Cookie) {
		t.Fatalf("login --expire-after=4h30m --format json: %+v", custom)
	}

	// $ auth-session login web_user --only-cookie
	r = mustRun(t, dbURL, "login", webUser, "--only-cookie")
	if strings.Count(r.stdout, "\n") != 1 || !secureCookie.MatchString(strings.TrimSuffix(r.stdout, "\n")) || r.stderr != "" {
		t.Fatalf("login --only-cookie: want exactly one cookie line on stdout and nothing on stderr (not a terminal):\n%s", r)
	}

	// Another user's sessions, one of which expires.
	otherActive := parseJSON(t, mustRun(t, dbURL, "login", other, "--format=json").stdout)[0].SessionID
	otherExpired := parseJSON(t, mustRun(t, dbURL, "login", other, "--format=json").stdout)[0].SessionID
	pgtest.MustExec(t, dbURL, "UPDATE system.web_sessions SET expires_at = now() - INTERVAL '1 second' WHERE id = $1", otherExpired)

	// list shows expires = created + 4h30m for the custom login.
	listed := byID(parseJSON(t, mustRun(t, dbURL, "list", "--format", "json").stdout))
	if s := listed[custom[0].SessionID]; s.ExpiresAt.Sub(s.CreatedAt) != 4*time.Hour+30*time.Minute {
		t.Errorf("list: session %s created %v expires %v, want 4h30m later", s.SessionID, s.CreatedAt, s.ExpiresAt)
	}
	if s := listed[first]; s.ExpiresAt.Sub(s.CreatedAt) != time.Hour {
		t.Errorf("list: default session created %v expires %v, want 1h later", s.CreatedAt, s.ExpiresAt)
	}

	// $ auth-session logout web_user
	r = mustRun(t, dbURL, "logout", webUser, "--format=json")
	revoked := parseJSON(t, r.stdout)
	if len(revoked) != 3 {
		t.Fatalf("logout printed %d rows, want web_user's 3:\n%s", len(revoked), r.stdout)
	}
	for _, s := range revoked {
		if s.Username != webUser || s.RevokedAt == nil {
			t.Errorf("logout row %+v: want %s with a revoked time", s, webUser)
		}
	}

	// $ auth-session list  — active, revoked and expired, NULL while not revoked.
	r = mustRun(t, dbURL, "list", "--format=table", "--warn-stale-days=0")
	table := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	// cockroach's six columns, then the status and the credential check's
	// reason.
	if !regexp.MustCompile(`^\s+username\s+\|\s+session ID\s+\|\s+created\s+\|\s+expires\s+\|\s+revoked\s+\|\s+last used\s+\|\s+status\s+\|\s+reason$`).MatchString(table[0]) ||
		table[len(table)-1] != "(5 rows)" {
		t.Fatalf("list --format=table:\n%s", r.stdout)
	}
	for _, line := range table[2 : len(table)-1] {
		cols := strings.Split(line, "|")
		id, revokedCol := strings.TrimSpace(cols[1]), strings.TrimSpace(cols[4])
		wantNULL := id == otherActive || id == otherExpired
		if (revokedCol == "NULL") != wantNULL {
			t.Errorf("list row %q: revoked %q, want NULL only for sessions not revoked", line, revokedCol)
		}
		wantStatus := map[string]string{otherActive: "active", otherExpired: "expired"}[id]
		if wantStatus == "" {
			wantStatus = "revoked"
		}
		if status := strings.TrimSpace(cols[6]); status != wantStatus {
			t.Errorf("list row %q: status %q, want %q", line, status, wantStatus)
		}
	}
	all := byID(parseJSON(t, mustRun(t, dbURL, "list", "--format=json").stdout))
	if len(all) != 5 || all[otherActive].RevokedAt != nil || all[otherExpired].RevokedAt != nil ||
		!all[otherExpired].ExpiresAt.Before(time.Now()) {
		t.Errorf("list: want 5 sessions, %s's two not revoked and one expired: %+v", other, all)
	}
	active := parseJSON(t, mustRun(t, dbURL, "list", "--active", "--format=json").stdout)
	if len(active) != 1 || active[0].SessionID != otherActive {
		t.Errorf("list --active = %+v, want only %s", active, otherActive)
	}
	mine := parseJSON(t, mustRun(t, dbURL, "list", "--user", webUser, "--format=json").stdout)
	if len(mine) != 3 {
		t.Errorf("list --user %s: %d rows, want 3", webUser, len(mine))
	}
}

// TestFormatsParse checks that every machine format of every command is
// what its parser reads: json through encoding/json, tsv and csv by line.
func TestFormatsParse(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	user := newRole(t, dbURL, "web_user", "LOGIN")
	for range 3 {
		mustRun(t, dbURL, "login", user, "--only-cookie")
	}
	for _, cmd := range [][]string{{"list"}, {"login", user}, {"logout", user}} {
		t.Run(cmd[0], func(t *testing.T) {
			rows := parseJSON(t, mustRun(t, dbURL, append(cmd, "--format", "json")...).stdout)
			if len(rows) == 0 {
				t.Fatalf("%s --format json: no rows", cmd[0])
			}
			for _, row := range rows {
				if row.Username != user || row.SessionID == "" {
					t.Errorf("%s json row %+v", cmd[0], row)
				}
			}
			var ndjson []string
			for _, line := range strings.Split(strings.TrimSuffix(mustRun(t, dbURL, append(cmd, "--format", "ndjson")...).stdout, "\n"), "\n") {
				var row session
				if err := json.Unmarshal([]byte(line), &row); err != nil {
					t.Errorf("ndjson line %q: %v", line, err)
				}
				ndjson = append(ndjson, row.SessionID)
			}
			if cmd[0] != "login" && len(ndjson) != len(rows) {
				t.Errorf("ndjson has %d rows, json %d", len(ndjson), len(rows))
			}
		})
	}
}
