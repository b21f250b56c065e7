package sql

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// mintFor makes a session of username through Store.Login, as a login
// command or the API does.
func mintFor(t *testing.T, conn *pgx.Conn, username string) Session {
	t.Helper()
	s, err := NewStore(conn).Login(testContext(t), NewSession{Username: username, HashedSecret: []byte("x"), ExpireAfter: hour},
		Actor{Name: "admin", Via: "cli"}, LoginOptions{})
	if err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return s
}

// credentialChanges are the changes made in psql, behind every tool's back,
// after which a session must stay refused for good. Nothing checks or
// sweeps between the change and the check: the session was not presented
// meanwhile, and no serve ran.
var credentialChanges = []struct {
	name string
	// change is run as a superuser; %[1]s is the role.
	change []string
}{
	{"password changed", []string{"ALTER ROLE %[1]s PASSWORD 'new-password'"}},
	{"NOLOGIN then LOGIN", []string{"ALTER ROLE %[1]s NOLOGIN", "ALTER ROLE %[1]s LOGIN"}},
	{"VALID UNTIL past then future", []string{"ALTER ROLE %[1]s VALID UNTIL '2001-01-01'", "ALTER ROLE %[1]s VALID UNTIL 'infinity'"}},
	{"CONNECTION LIMIT changed (any change of the role's row counts)", []string{"ALTER ROLE %[1]s CONNECTION LIMIT 5"}},
	{"dropped and created again", []string{"DROP ROLE %[1]s", "CREATE ROLE %[1]s LOGIN PASSWORD 'old-password'"}},
}

// TestCredentialChangesEndSessionsForGood: after any of credentialChanges,
// a session minted before it is refused, although the role may log in
// again with the very same attributes.
func TestCredentialChangesEndSessionsForGood(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	for _, c := range credentialChanges {
		t.Run(c.name, func(t *testing.T) {
			user := newLoginRole(t, dbURL)
			pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'old-password'")
			s := mintFor(t, conn, user)
			bystander := mintFor(t, conn, newLoginRole(t, dbURL))
			mustBeAccepted(t, conn, s, "before the change")
			for _, stmt := range c.change {
				pgtest.MustExec(t, dbURL, sprintfRole(stmt, user))
			}
			check, err := CheckSession(testContext(t), conn, s.ID, CheckPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			if allows(check) {
				t.Errorf("session %d of %s is accepted after %s; want it refused for good", s.ID, user, c.name)
			}
			mustBeAccepted(t, conn, bystander, "another user's session")
		})
	}
}

func sprintfRole(stmt, role string) string {
	return fmt.Sprintf(stmt, role)
}

// sweep runs the credential sweep as serve and the commands do.
func sweep(t *testing.T, db DB) RevokeResult {
	t.Helper()
	res, err := NewStore(db).Revoke(testContext(t), CredentialsChanged(), RevokeOptions{By: Actor{Via: "cli"}}, nil)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return res
}

// listedOf returns session id as ListSessions shows it.
func listedOf(t *testing.T, db DBTX, s Session) ListedSession {
	t.Helper()
	var found *ListedSession
	err := ListSessions(testContext(t), db, ListFilter{Selection: Selection{Users: []string{s.Username}}}, func(l *ListedSession) error {
		if l.ID == s.ID {
			c := *l
			found = &c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == nil {
		t.Fatalf("list does not show session %d", s.ID)
	}
	return *found
}

// eventsOf returns username's events named event, oldest first.
func eventsOf(t *testing.T, db DBTX, username, event string) []Event {
	t.Helper()
	var out []Event
	err := ListEvents(testContext(t), db, EventFilter{Username: username}, func(e *Event) error {
		if e.Event == event {
			out = append(out, *e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSweepRecordsWhySessionsEnded: the sweep revokes the sessions of a
// role changed behind its back, with the reason list shows and one
// sessions.revoked event per user; sweeping again records nothing more,
// and re-enabling the role brings nothing back.
func TestSweepRecordsWhySessionsEnded(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	tests := []struct {
		name string
		// change is run, then the sweep, then after (both as a superuser).
		change, after []string
		reason        string
	}{
		{"password changed", []string{"ALTER ROLE %[1]s PASSWORD 'new-password'"}, nil, ReasonPasswordChanged},
		{"NOLOGIN, swept, then LOGIN", []string{"ALTER ROLE %[1]s NOLOGIN"}, []string{"ALTER ROLE %[1]s LOGIN"}, ReasonRoleDisabled},
		{"VALID UNTIL past, swept, then future", []string{"ALTER ROLE %[1]s VALID UNTIL '2001-01-01'"},
			[]string{"ALTER ROLE %[1]s VALID UNTIL 'infinity'"}, ReasonRoleDisabled},
		{"NOLOGIN then LOGIN, nobody looking", []string{"ALTER ROLE %[1]s NOLOGIN", "ALTER ROLE %[1]s LOGIN"}, nil, ReasonRoleChanged},
		{"password changed and NOLOGIN", []string{"ALTER ROLE %[1]s PASSWORD 'new-password'", "ALTER ROLE %[1]s NOLOGIN"}, nil, ReasonRoleDisabled},
		{"CONNECTION LIMIT", []string{"ALTER ROLE %[1]s CONNECTION LIMIT 3"}, nil, ReasonRoleChanged},
		{"DROP ROLE", []string{"DROP ROLE %[1]s"}, []string{"CREATE ROLE %[1]s LOGIN"}, ReasonRoleDropped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := newLoginRole(t, dbURL)
			pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'old-password'")
			sessions := []Session{mintFor(t, conn, user), mintFor(t, conn, user)}
			bystander := mintFor(t, conn, newLoginRole(t, dbURL))
			for _, stmt := range tt.change {
				pgtest.MustExec(t, dbURL, sprintfRole(stmt, user))
			}
			res := sweep(t, conn)
			for _, stmt := range tt.after {
				pgtest.MustExec(t, dbURL, sprintfRole(stmt, user))
			}
			if res.Revoked < 2 {
				t.Errorf("the sweep revoked %d sessions; want at least %s's 2", res.Revoked, user)
			}
			for _, s := range sessions {
				l := listedOf(t, conn, s)
				if l.Status != StatusRevoked || l.RevokeReason != tt.reason || l.RevokedAt == nil {
					t.Errorf("list shows session %d as %s, reason %q, revoked at %v; want revoked, %q", s.ID, l.Status, l.RevokeReason, l.RevokedAt, tt.reason)
				}
				mustBeRefused(t, conn, s, tt.name)
			}
			if l := listedOf(t, conn, bystander); l.Status != StatusActive || l.RevokeReason != "" {
				t.Errorf("another user's session is %s (%q); want it active", l.Status, l.RevokeReason)
			}
			sweep(t, conn)
			events := eventsOf(t, conn, user, EventSessionsRevoked)
			if len(events) != 1 {
				t.Fatalf("%d sessions.revoked events of %s; want 1: %+v", len(events), user, events)
			}
			if d := events[0].Detail; d["reason"] != tt.reason || d["revoked"] != float64(2) {
				t.Errorf("event detail %v; want reason %q and revoked 2", d, tt.reason)
			}
		})
	}
}

// TestConcurrentSweepsRecordOnce: sweeps running at once, as the serve
// processes over one database and the commands run them, revoke each
// session once and record one event per user.
func TestConcurrentSweepsRecordOnce(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	var users []string
	for range 3 {
		user := newLoginRole(t, dbURL)
		users = append(users, user)
		for range 3 {
			mintFor(t, conn, user)
		}
		pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'changed'")
	}
	const sweepers = 6
	results := make(chan RevokeResult, sweepers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range sweepers {
		c := mustConnect(t, dbURL)
		wg.Go(func() {
			<-start
			res, err := NewStore(c).Revoke(testContext(t), CredentialsChanged(), RevokeOptions{By: Actor{Via: "http"}}, nil)
			if err != nil {
				t.Error(err)
			}
			results <- res
		})
	}
	close(start)
	wg.Wait()
	close(results)
	var revoked int64
	for r := range results {
		revoked += r.Revoked
	}
	if revoked != 9 {
		t.Errorf("the sweeps revoked %d sessions between them; want 9, each once", revoked)
	}
	for _, u := range users {
		if events := eventsOf(t, conn, u, EventSessionsRevoked); len(events) != 1 || events[0].Detail["revoked"] != float64(3) {
			t.Errorf("events of %s: %+v; want one sessions.revoked of 3", u, events)
		}
	}
}

// TestSettingOffKeepsSessionsOfReenabledRoles: with
// end-sessions-on-credential-change false, a session is refused only while
// its role cannot log in, as before the setting; the sweep does nothing.
func TestSettingOffKeepsSessionsOfReenabledRoles(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	store := NewStore(conn)
	if _, err := store.SetSetting(testContext(t), SettingEndSessionsOnCredentialChange, "off", Actor{Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	user := newLoginRole(t, dbURL)
	s := mintFor(t, conn, user)
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" NOLOGIN")
	check, err := CheckSession(testContext(t), conn, s.ID, CheckPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if allows(check) || check.EndsForGood {
		t.Errorf("session of a NOLOGIN role: %+v; want refused, not for good", check)
	}
	if res := sweep(t, conn); res.Revoked != 0 {
		t.Errorf("the sweep revoked %d sessions with the setting off; want none", res.Revoked)
	}
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" LOGIN PASSWORD 'changed'")
	mustBeAccepted(t, conn, s, "role re-enabled and its password changed, setting off")
	if l := listedOf(t, conn, s); l.Status != StatusActive {
		t.Errorf("list shows %s; want active", l.Status)
	}

	// On again, the change made while it was off counts.
	if _, err := store.ResetSetting(testContext(t), SettingEndSessionsOnCredentialChange, Actor{Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	sweep(t, conn)
	if l := listedOf(t, conn, s); l.Status != StatusRevoked || l.RevokeReason != ReasonPasswordChanged {
		t.Errorf("after the reset list shows %s (%q); want revoked, %q", l.Status, l.RevokeReason, ReasonPasswordChanged)
	}
}

// TestSessionsFromBeforeTheStamps: the migration stamps the live sessions
// it finds with their role's state then, so that a change after it ends
// them and none is ended by the upgrade itself; those of roles gone by then
// are swept as dropped. A row without a stamp (an older serve still
// running) is judged by its role's state alone, as before.
func TestSessionsFromBeforeTheStamps(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	conn := mustConnect(t, dbURL)
	if _, err := migrateTo(testContext(t), conn, MigrateOptions{}, 7); err != nil {
		t.Fatal(err)
	}
	kept, changed, gone := newLoginRole(t, dbURL), newLoginRole(t, dbURL), newLoginRole(t, dbURL)
	// As a binary of schema version 7 inserted them.
	insertOld := func(user string) Session {
		t.Helper()
		var s Session
		err := conn.QueryRow(testContext(t), `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at)
SELECT '\x00', rolname, oid::BIGINT, now() + INTERVAL '1 hour' FROM pg_roles WHERE rolname = $1
RETURNING id, username, user_id`, user).Scan(&s.ID, &s.Username, &s.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	keptSession, changedSession, goneSession := insertOld(kept), insertOld(changed), insertOld(gone)
	pgtest.MustExec(t, dbURL, "DROP ROLE "+gone)
	if _, err := Migrate(testContext(t), conn, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustBeAccepted(t, conn, keptSession, "a session from before the migration")
	mustBeAccepted(t, conn, changedSession, "a session from before the migration")
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+changed+" PASSWORD 'changed'")
	if res := sweep(t, conn); res.Revoked != 2 {
		t.Errorf("the sweep revoked %d sessions; want 2", res.Revoked)
	}
	for s, want := range map[Session]string{keptSession: "", changedSession: ReasonPasswordChanged, goneSession: ReasonRoleDropped} {
		if l := listedOf(t, conn, s); l.RevokeReason != want || (want == "") != (l.Status == StatusActive) {
			t.Errorf("session of %s: %s, reason %q; want reason %q", s.Username, l.Status, l.RevokeReason, want)
		}
	}

	legacy := insertOld(kept) // after the migration, without a stamp
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+kept+" NOLOGIN")
	sweep(t, conn)
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+kept+" LOGIN")
	mustBeAccepted(t, conn, legacy, "an unstamped session of a role enabled again")
	mustBeRefused(t, conn, keptSession, "a stamped session of a role disabled and enabled again")
}

// TestLoginRefusedWhenRoleChangedDuringPasswordCheck: a password checked
// before the role changed makes no session.
func TestLoginRefusedWhenRoleChangedDuringPasswordCheck(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	user := newLoginRole(t, dbURL)
	version, err := RoleVersion(testContext(t), conn, user)
	if err != nil || version == 0 {
		t.Fatalf("RoleVersion: %d, %v; want a version", version, err)
	}
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'changed'")
	_, err = NewStore(conn).Login(testContext(t), NewSession{Username: user, HashedSecret: []byte("x"), ExpireAfter: hour, RoleVersion: version},
		Actor{Name: user, Via: "http"}, LoginOptions{})
	if !errors.Is(err, ErrRoleChanged) {
		t.Errorf("login with the version from before the change: %v; want ErrRoleChanged", err)
	}
	if n := sessionsOf(t, conn, user); n != 0 {
		t.Errorf("%d sessions of %s; want none", n, user)
	}
	if v, _ := RoleVersion(testContext(t), conn, user); v == version {
		t.Errorf("the role's version did not change with its password")
	}
	if _, err := RoleVersion(testContext(t), conn, pgtest.UniqueName("nobody")); err != nil {
		t.Errorf("RoleVersion of no role: %v; want 0 and no error", err)
	}
}

// TestCredentialViewShowsNoSecret: members of admin read the stamps, never
// a password verifier nor the key of the digests; others read neither.
func TestCredentialViewShowsNoSecret(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	member := newLoginRole(t, dbURL)
	outsider := newLoginRole(t, dbURL)
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+member+" PASSWORD 'member-pw'; GRANT admin TO "+member+"; ALTER ROLE "+outsider+" PASSWORD 'outsider-pw'")
	rows, err := conn.Query(testContext(t), `SELECT attname FROM pg_attribute WHERE attrelid = 'system.role_credentials'::regclass AND attnum > 0 ORDER BY attnum`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ","); got != "oid,rolname,rolcanlogin,rolvaliduntil,row_version,password_tag" {
		t.Errorf("system.role_credentials has columns %s", got)
	}
	memberConn := mustConnect(t, pgtest.WithUser(dbURL, member, "member-pw"))
	var tag []byte
	if err := memberConn.QueryRow(testContext(t), "SELECT password_tag FROM system.role_credentials WHERE rolname = $1", member).Scan(&tag); err != nil || len(tag) != 8 {
		t.Errorf("a member of admin reads the tag: %x, %v; want 8 bytes", tag, err)
	}
	if _, err := memberConn.Exec(testContext(t), "SELECT key FROM system.credential_key"); SQLState(err) != "42501" {
		t.Errorf("a member of admin reads the key: %v; want permission denied", err)
	}
	outsiderConn := mustConnect(t, pgtest.WithUser(dbURL, outsider, "outsider-pw"))
	if _, err := outsiderConn.Exec(testContext(t), "SELECT * FROM system.role_credentials"); SQLState(err) != "42501" {
		t.Errorf("a user outside admin reads the view: %v; want permission denied", err)
	}
}

// TestStampsNeedASuperuserToInstall: a member of admin upgrading a schema
// of version 7 is refused before anything of version 8 is made: the view
// it would own could not read pg_authid.
func TestStampsNeedASuperuserToInstall(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	conn := mustConnect(t, dbURL)
	if _, err := migrateTo(testContext(t), conn, MigrateOptions{}, 7); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(testContext(t), "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	// Whatever else an upgrade of the schema needs, this member has it.
	member := pgtest.UniqueName("upgrader")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+member+" LOGIN PASSWORD 'pw' IN ROLE admin; GRANT CREATE ON DATABASE "+db+" TO "+member+
		"; GRANT CREATE ON SCHEMA system TO "+member+"; GRANT INSERT ON system.schema_migrations TO "+member)
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP OWNED BY "+member+"; DROP ROLE "+member) })
	_, err := Migrate(testContext(t), mustConnect(t, pgtest.WithUser(dbURL, member, "pw")), MigrateOptions{})
	if SQLState(err) != "42501" || !strings.Contains(err.Error(), "must be applied by a superuser") {
		t.Errorf("migrate as a member of admin: %v; want 42501 saying a superuser must apply it", err)
	}
	if v, _ := schemaVersion(testContext(t), conn); v != 7 {
		t.Errorf("schema version %d after the refusal; want 7", v)
	}
}

// TestSettings: set, show and reset, each change recorded with its old
// and new value; bad names and values change nothing.
func TestSettings(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	store := NewStore(conn)
	ctx := testContext(t)
	by := Actor{Name: "ops", Via: "cli", ClientAddr: "host"}
	name := SettingEndSessionsOnCredentialChange
	show := func() SettingValue {
		t.Helper()
		vs, err := ShowSettings(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("settings show no %s: %+v", name, vs)
		return SettingValue{}
	}
	if v := show(); v.Value != "true" || v.Origin != OriginDefault {
		t.Errorf("before any change: %+v; want true, default", v)
	}
	if _, err := store.SetSetting(ctx, "no-such-setting", "true", by); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("unknown setting: %v; want an error naming %s", err, name)
	}
	if _, err := store.SetSetting(ctx, name, "maybe", by); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("bad value: %v; want an error naming it", err)
	}
	steps := []struct {
		set                string // "" resets
		wantOld, wantNew   string
		wantChanged        bool
		wantValue, wantOrg string
	}{
		{"off", "true", "false", true, "false", OriginDatabase},
		{"false", "false", "false", false, "false", OriginDatabase},
		{"", "false", "true", true, "true", OriginDefault},
		{"", "true", "true", false, "true", OriginDefault},
	}
	for i, st := range steps {
		var c SettingChange
		var err error
		if st.set == "" {
			c, err = store.ResetSetting(ctx, name, by)
		} else {
			c, err = store.SetSetting(ctx, name, st.set, by)
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Old != st.wantOld || c.New != st.wantNew || c.Changed != st.wantChanged {
			t.Errorf("step %d: %+v; want %s -> %s, changed %v", i, c, st.wantOld, st.wantNew, st.wantChanged)
		}
		if v := show(); v.Value != st.wantValue || v.Origin != st.wantOrg {
			t.Errorf("step %d: shows %s (%s); want %s (%s)", i, v.Value, v.Origin, st.wantValue, st.wantOrg)
		}
	}
	events := eventsOf(t, conn, "", EventSettingChanged)
	if len(events) != 2 || events[0].Detail["old"] != "true" || events[0].Detail["new"] != "false" ||
		events[1].Detail["old"] != "false" || events[1].Detail["new"] != "true" || events[0].Actor != "ops" || events[0].Detail["setting"] != name {
		t.Errorf("setting.changed events: %+v; want true -> false by ops, then false -> true", events)
	}
}

// TestCredentialQueriesUseIndexes: the sweep, and the question whether one
// is due, walk the index of live stamped sessions, never the table, and the session check stays a
// lookup by id, on a table of many sessions of many roles.
func TestCredentialQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	// 200 roles' worth of sessions, of a few versions each, most of them
	// expired or revoked as on a busy table.
	_, err := conn.Exec(testContext(t), `INSERT INTO system.web_sessions
    (id, hashed_secret, username, user_id, created_at, expires_at, revoked_at, role_version)
SELECT g, '\x00', 'user' || (g % 200), 100000 + g % 200, now() - INTERVAL '1 day',
    now() + CASE WHEN g % 10 = 0 THEN INTERVAL '1 hour' ELSE INTERVAL '-1 hour' END,
    CASE WHEN g % 3 = 0 THEN now() END, 1000 + g % 600
FROM generate_series(1, 30000) g`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(testContext(t), "ANALYZE system.web_sessions"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, query, args, wantIndex string
		// only: the sessions are read through wantIndex and the primary
		// key alone (the sweep must not read every live session).
		only bool
	}{
		{"sweep", sweepCredentials, "", "web_sessions_live_role_idx", true},
		// Its question first, before every list, revoke and purge.
		{"sweep due", sweepDue, "", "web_sessions_live_role_idx", true},
		{"check", checkSessions, "ARRAY[15, 16]::BIGINT[], 60000000, 0", "web_sessions_pkey", false},
	} {
		for _, generic := range []bool{false, true} {
			plan := explain(t, conn, tt.query, tt.args, generic)
			t.Logf("%s (generic %v): %s", tt.name, generic, plan)
			uses := false
			plan.walk(func(n planNode) {
				if n.NodeType == "Seq Scan" && n.RelationName == "web_sessions" {
					t.Errorf("%s: sequential scan of web_sessions in %s", tt.name, plan)
				}
				uses = uses || n.IndexName == tt.wantIndex
				if tt.only && strings.HasPrefix(n.IndexName, "web_sessions") && n.IndexName != tt.wantIndex && n.IndexName != "web_sessions_pkey" {
					t.Errorf("%s: reads web_sessions through %s in %s", tt.name, n.IndexName, plan)
				}
			})
			if !uses {
				t.Errorf("%s: plan %s does not use %s", tt.name, plan, tt.wantIndex)
			}
		}
	}
}

// TestSweepQuestionDigestsNoPassword: the question whether a sweep is due,
// asked before every list, revoke and purge, compares each role's row
// version alone. The keyed digest of a password, which says only why a
// session ended, is computed for the roles that changed, never for every
// role of pg_authid (a join with role_credentials on the nullable side of
// an outer join computes the view's columns for each row it scans).
func TestSweepQuestionDigestsNoPassword(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	type node struct {
		NodeType    string   `json:"Node Type"`
		SubplanName string   `json:"Subplan Name"`
		Output      []string `json:"Output"`
		Plans       []node   `json:"Plans"`
	}
	var walk func(n node, in bool, fn func(n node, inChanged bool))
	walk = func(n node, in bool, fn func(n node, inChanged bool)) {
		in = in || n.SubplanName == "CTE changed"
		fn(n, in)
		for _, c := range n.Plans {
			walk(c, in, fn)
		}
	}
	for name, query := range map[string]string{"sweep due": sweepDue, "sweep": sweepCredentials} {
		var out []byte
		if err := conn.QueryRow(ctx, "EXPLAIN (VERBOSE, FORMAT JSON) "+query).Scan(&out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plans []struct{ Plan node }
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("%s: parse plan %s: %v", name, out, err)
		}
		found := false
		walk(plans[0].Plan, false, func(n node, inChanged bool) {
			found = found || n.SubplanName == "CTE changed"
			for _, o := range n.Output {
				if inChanged && strings.Contains(o, "sha256") {
					t.Errorf("%s: %s in the changed roles' CTE computes a digest: %s", name, n.NodeType, o)
				}
			}
		})
		if !found {
			t.Errorf("%s: no CTE changed in the plan %s", name, out)
		}
	}
}
