package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const adminRevokePath = "/api/v1/admin/sessions/revoke"

// revokeMatching posts body to the revocation by selection as caller.
func (f *fixture) revokeMatching(t *testing.T, caller session, body string) response {
	t.Helper()
	return f.do(t, http.MethodPost, adminRevokePath, strings.NewReader(body),
		"X-Auth-Session", caller.value, "Content-Type", "application/json")
}

// TestAdminRevokeMatchingRefusals: a body whose keys are not exactly the
// fields, once each; a time bound that is not one PostgreSQL and the rule
// of the epoch accept; a selection that in effect picks every live session;
// a reason that is not printable: each is a 400 that names what is wrong,
// and nothing is revoked or recorded.
func TestAdminRevokeMatchingRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	user := f.newRole(t, "pw")
	victims := []session{f.newSession(t, user, "pw"), f.newSession(t, user, "pw")}
	users := `"users":["` + user + `"]`
	for _, tt := range []struct{ body, want string }{
		// A key matched exactly, once.
		{`{` + users + `,"dry_run":true,"Dry_Run":false}`, `unknown field "Dry_Run"`},
		{`{"USERS":["` + user + `"]}`, `unknown field "USERS"`},
		{`{` + users + `,"dry_run":false,"dry_run":true}`, `field "dry_run" given twice`},
		{`{` + users + `,` + users + `}`, `field "users" given twice`},
		// A time bound applied as written, or refused.
		{`{` + users + `,"created_before":"0001-01-01T00:00:00Z"}`, `invalid created_before "0001-01-01T00:00:00Z": before 1970-01-01T00:00:00Z`},
		{`{` + users + `,"created_after":"1969-12-31T23:59:59Z"}`, `invalid created_after "1969-12-31T23:59:59Z": before 1970-01-01T00:00:00Z`},
		{`{` + users + `,"created_after":"3000w"}`, `invalid created_after "3000w": before 1970-01-01T00:00:00Z`},
		// An empty value is no filter given: not one dropped.
		{`{` + users + `,"ip":""}`, `invalid ip ""`},
		{`{"users":[],"via":"http"}`, `invalid users []: want at least one role name`},
		// A selection that picks every live session.
		{`{"created_after":"1970-01-01T00:00:00Z","dry_run":true}`, `the selection picks every live session`},
		// A duration below the selection's one minimum (the CLI's too).
		{`{"idle_for":"1ns"}`, `invalid idle_for "1ns": must be at least 1s`},
		{`{"state":"active"}`, `the selection picks every live session`},
		// A reason that is not printable.
		{`{` + users + `,"reason":"a\u001b[2Jb"}`, `invalid reason "a\x1b[2Jb": want printable text`},
		{`{` + users + `,"reason":"line\nbreak","dry_run":true}`, `invalid reason "line\nbreak": want printable text`},
	} {
		r := f.revokeMatching(t, caller, tt.body)
		var got struct{ Error string }
		if json.Unmarshal([]byte(r.body), &got); r.status != http.StatusBadRequest || !strings.Contains(got.Error, tt.want) {
			t.Errorf("%s: %d %s\nwant 400 and %s", tt.body, r.status, r.body, tt.want)
		}
	}
	for _, s := range append(victims, caller) {
		if !f.works(t, s) {
			t.Errorf("session %s was revoked by a refused request", s.id)
		}
	}
	if got := f.eventsOf(t, "sessions.revoked"); len(got) != 0 {
		t.Errorf("a refused request recorded %+v", got)
	}

	// The extremes PostgreSQL holds are applied as written.
	for _, tt := range []struct{ body, want string }{
		{`{` + users + `,"created_before":"9999-12-31T23:59:59Z","dry_run":true}`, `{"revoked":2,"already_revoked":0,"users":1,"dry_run":true}`},
		{`{` + users + `,"created_after":"9999-12-31T23:59:59Z","dry_run":true}`, `{"revoked":0,"already_revoked":0,"users":0,"dry_run":true}`},
		{`{` + users + `,"created_after":"1970-01-01T00:00:00Z","dry_run":true}`, `{"revoked":2,"already_revoked":0,"users":1,"dry_run":true}`},
	} {
		r := f.revokeMatching(t, caller, tt.body)
		if r.status != http.StatusOK || strings.TrimSpace(r.body) != tt.want {
			t.Errorf("%s: %d %s\nwant 200 and %s", tt.body, r.status, r.body, tt.want)
		}
	}
}

// TestAdminRevokeMatchingRecordsLists: the selection is recorded as JSON,
// its users as a list, so that ["a,b"] and ["a","b"] read apart.
func TestAdminRevokeMatchingRecordsLists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	user := f.newRole(t, "pw")
	victim := f.newSession(t, user, "pw")
	r := f.revokeMatching(t, caller, `{"users":["`+user+`","a,b"],"ip":"127.0.0.1","reason":"incident 42"}`)
	wantStatus(t, r, http.StatusOK)
	if f.works(t, victim) {
		t.Error("the session picked still works")
	}
	events := f.eventsOf(t, "sessions.revoked")
	if len(events) != 1 {
		t.Fatalf("events %+v; want one sessions.revoked", events)
	}
	var detail struct {
		Reason    string
		Revoked   int
		Selection struct {
			Users []string
			IP    string
		}
	}
	if err := json.Unmarshal([]byte(events[0].Detail), &detail); err != nil ||
		!slices.Equal(detail.Selection.Users, []string{user, "a,b"}) || detail.Selection.IP != "127.0.0.1" ||
		detail.Reason != "incident 42" || detail.Revoked != 1 {
		t.Errorf("detail %s (%v); want the selection's users as a list of 2, its ip, the reason and the count", events[0].Detail, err)
	}
}
