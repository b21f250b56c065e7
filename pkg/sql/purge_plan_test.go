package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// planNode is the part of EXPLAIN (FORMAT JSON) output the test reads.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

// walk calls fn for n and every node below it, init plans included.
func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

func (n planNode) String() string {
	var b strings.Builder
	n.walk(func(n planNode) {
		fmt.Fprintf(&b, "%s", n.NodeType)
		if n.RelationName != "" {
			fmt.Fprintf(&b, " on %s", n.RelationName)
		}
		if n.IndexName != "" {
			fmt.Fprintf(&b, " using %s", n.IndexName)
		}
		b.WriteString("; ")
	})
	return b.String()
}

// explain prepares query and returns the plan of executing it with args (SQL
// expressions), as a custom plan or as the generic plan a cached prepared
// statement switches to after a few executions.
func explain(t *testing.T, db DBTX, query, args string, generic bool) planNode {
	t.Helper()
	ctx := testContext(t)
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	for _, stmt := range []string{"SET plan_cache_mode = " + mode, "PREPARE q AS " + query} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	defer db.Exec(ctx, "DEALLOCATE q")
	execute := "EXECUTE q"
	if args != "" {
		execute += "(" + args + ")"
	}
	var out []byte
	if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+execute).Scan(&out); err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("parse plan %s: %v", out, err)
	}
	return plans[0].Plan
}

// sqlLiterals writes args as the SQL literals of an EXECUTE.
func sqlLiterals(t *testing.T, args []any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	var out []string
	for _, a := range args {
		switch v := a.(type) {
		case string:
			out = append(out, quote(v))
		case []string:
			var q []string
			for _, s := range v {
				q = append(q, quote(s))
			}
			out = append(out, "ARRAY["+strings.Join(q, ", ")+"]")
		case int, int64:
			out = append(out, fmt.Sprint(v))
		case time.Time:
			out = append(out, quote(v.Format(time.RFC3339Nano)))
		default:
			t.Fatalf("no literal for %T", a)
		}
	}
	return strings.Join(out, ", ")
}

// TestQueriesUseIndexes checks, on tables large enough for the planner to
// care, that list and the purge batches read through indexes: a purge batch
// must cost the same on a table of a billion rows as on a small one, and
// list --user must not read other users' rows. Each mustInsert call gives
// its rows one timestamp, so the statistics also see the ties a logout
// leaves (one revoked_at for all of a user's sessions).
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	// What a busy table looks like when purge is behind: mostly dead rows.
	for i := range 200 {
		user := fmt.Sprintf("user%d", i)
		mustInsert(t, conn, user, expiredLongAgo, 80)
		mustInsert(t, conn, user, revokedLongAgo, 10)
		mustInsert(t, conn, user, active, 10)
		mustInsert(t, conn, user, unusedLong, 10)
	}
	mustInsertEvents(t, conn, 40*24*time.Hour, 18000)
	mustInsertEvents(t, conn, time.Hour, 2000)
	if _, err := conn.Exec(testContext(t), "ANALYZE system.web_sessions; ANALYZE system.session_events"); err != nil {
		t.Fatal(err)
	}

	list := func(f ListFilter) (string, string) {
		t.Helper()
		q, args, err := listQuery(f)
		if err != nil {
			t.Fatal(err)
		}
		return q, sqlLiterals(t, args)
	}
	byUser, byUserArgs := list(ListFilter{Selection: Selection{Users: []string{"user7"}}})
	activeOnly, _ := list(ListFilter{Selection: Selection{State: StatusActive}})
	activeOfUser, activeOfUserArgs := list(ListFilter{Selection: Selection{Users: []string{"user7"}, State: StatusActive}})
	byUsers, byUsersArgs := list(ListFilter{Selection: Selection{Users: []string{"user7", "user8"}}})
	expiredWithin, expiredWithinArgs := list(ListFilter{Selection: Selection{ExpiredWithin: time.Hour}})
	createdBefore, createdBeforeArgs := list(ListFilter{Selection: Selection{CreatedBefore: Instant{Ago: 48 * time.Hour}}})
	createdAfter, createdAfterArgs := list(ListFilter{Selection: Selection{CreatedAfter: Instant{At: time.Now().Add(time.Hour)}}})
	idleFor, idleForArgs := list(ListFilter{Selection: Selection{IdleFor: 7 * 24 * time.Hour}})
	byNetwork, byNetworkArgs := list(ListFilter{Selection: Selection{Network: netip.MustParsePrefix("203.0.113.0/24")}})
	byAgent, byAgentArgs := list(ListFilter{Selection: Selection{UserAgent: "curl/8"}})
	lastUsed, lastUsedArgs := list(ListFilter{Order: OrderLastUsed, Desc: true, Limit: 20})
	const (
		audit = ", 'admin', 'cli', 'host', 'run', '2026-01-01T00:00:00Z'"
		start = "'0001-01-01', -9223372036854775808, 1000"
	)
	// Each batch ends where the statement before it counted a batch's rows.
	batchEnd := func(q string) string {
		t.Helper()
		var (
			key time.Time
			id  int64
		)
		if err := conn.QueryRow(testContext(t), q).Scan(&key, &id); err != nil {
			t.Fatal(err)
		}
		return sqlLiterals(t, []any{key, id})
	}
	var (
		purgeArgs   = "now() - INTERVAL '1 hour', " + start + audit + ", " + batchEnd("SELECT expires_at, id FROM system.web_sessions ORDER BY expires_at, id OFFSET 999 LIMIT 1")
		revokedArgs = "now() - INTERVAL '1 hour', " + start + audit + ", " + batchEnd("SELECT revoked_at, id FROM system.web_sessions WHERE revoked_at IS NOT NULL ORDER BY revoked_at, id OFFSET 999 LIMIT 1")
		eventsArgs  = "now() - INTERVAL '30 days', " + start + audit + ", " + batchEnd("SELECT at, id FROM system.session_events ORDER BY at, id OFFSET 999 LIMIT 1")
		idleArgs    = "now() - INTERVAL '3 hours', " + start + audit + ", " + batchEnd(`SELECT last_used_at, id FROM system.web_sessions
WHERE last_used_at < now() - INTERVAL '3 hours' AND revoked_at IS NULL AND expires_at > now() ORDER BY last_used_at, id OFFSET 999 LIMIT 1`)
	)
	tests := []struct {
		name, query, args string
		table             string
		// wantIndex is the index the plan must use; "" accepts any.
		wantIndex string
		// walk: the plan must read the table through wantIndex alone, in
		// its order (no Sort), as each purge batch must.
		walk bool
	}{
		{"list --user", byUser, byUserArgs, "web_sessions", "web_sessions_username_idx", false},
		{"list --active", activeOnly, "", "web_sessions", "", false},
		{"list --user --active", activeOfUser, activeOfUserArgs, "web_sessions", "", false}, // either index by user
		{"list --user a --user b", byUsers, byUsersArgs, "web_sessions", "web_sessions_username_idx", false},
		{"list --expired-within", expiredWithin, expiredWithinArgs, "web_sessions", "web_sessions_expires_at_id_idx", false},
		{"list --created-before", createdBefore, createdBeforeArgs, "web_sessions", "web_sessions_created_at_idx", false},
		{"list --created-after", createdAfter, createdAfterArgs, "web_sessions", "web_sessions_created_at_idx", false},
		{"list --idle-for", idleFor, idleForArgs, "web_sessions", "web_sessions_last_used_at_idx", false},
		{"list --ip", byNetwork, byNetworkArgs, "web_sessions", "web_sessions_client_ip_idx", false},
		{"list --user-agent", byAgent, byAgentArgs, "web_sessions", "web_sessions_user_agent_trgm_idx", false},
		{"list --order last-used --desc --limit", lastUsed, lastUsedArgs, "web_sessions", "web_sessions_last_used_at_idx", false},
		{"purge batch of expired sessions", expiredSessions.batchSQL(), purgeArgs, "web_sessions", "web_sessions_expires_at_id_idx", true},
		{"purge batch of revoked sessions", revokedSessions.batchSQL(), revokedArgs, "web_sessions", "web_sessions_revoked_at_id_idx", true},
		{"purge batch of idle sessions", idleSessions.batchSQL(), idleArgs, "web_sessions", "web_sessions_last_used_at_idx", true},
		{"purge batch of events", oldEvents.batchSQL(), eventsArgs, "session_events", "session_events_at_id_idx", true},
	}
	for _, tt := range tests {
		for _, generic := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " (custom plan)", true: " (generic plan)"}[generic]
			plan := explain(t, conn, tt.query, tt.args, generic)
			t.Logf("%s: %s", name, plan)
			usesIndex := false
			plan.walk(func(n planNode) {
				if n.NodeType == "Seq Scan" && n.RelationName == tt.table {
					t.Errorf("%s: sequential scan of %s in %s", name, tt.table, plan)
				}
				if n.IndexName != "" && (tt.wantIndex == "" && strings.HasPrefix(n.IndexName, tt.table) || n.IndexName == tt.wantIndex) {
					usesIndex = true
				}
				// A Sort of the rows the statement collected (a CTE) is
				// not one of the table.
				sortsTable := n.NodeType == "Sort" && !(len(n.Plans) == 1 && n.Plans[0].NodeType == "CTE Scan")
				if tt.walk && (n.IndexName != "" && n.IndexName != tt.wantIndex || sortsTable) {
					t.Errorf("%s: %s in %s, want a walk of %s alone", name, n.NodeType, plan, tt.wantIndex)
				}
			})
			if !usesIndex {
				t.Errorf("%s: plan %s does not use index %q", name, plan, tt.wantIndex)
			}
		}
	}
}

// TestPurgeBatchPlanAtScale checks, batch by batch, the plan of each
// statement of an index walk as the purge runs it: the planner must expect
// about the batch's rows, not a share of the whole table (at 10 million
// sessions it expected 329,000 rows for a batch of 1,000, and compiled every
// batch with JIT), and JIT must be off for the batch however a server sets
// its thresholds (see walkExplained).
func TestPurgeBatchPlanAtScale(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	conn, _ := newStore(t)
	const (
		purgeable = 10_000
		live      = 90_000
		batch     = 100
	)
	// 10,000 sessions expired long ago, a minute apart, and 90,000 live: the
	// old statement expected a third of the purgeable rows in each batch
	// when they were under a third of the table.
	_, err := conn.Exec(ctx, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at)
SELECT g, '\x00', 'user' || g % 100, 16384 + g % 100,
    CASE WHEN g <= $1::INT THEN now() - INTERVAL '40 days' + g * INTERVAL '1 minute' ELSE now() + g * INTERVAL '1 second' END
FROM generate_series(1, $1::INT + $2::INT) g`, purgeable, live)
	if err != nil {
		t.Fatal(err)
	}
	var cutoff time.Time
	if err := conn.QueryRow(ctx, "SELECT now() - INTERVAL '1 hour'").Scan(&cutoff); err != nil {
		t.Fatal(err)
	}
	w := newIndexWalk(expiredSessions, cutoff, batch, batchAudit{actor: "admin", via: "cli", run: "test"})
	if total := walkExplained(t, conn, w, purgeable+live); total != purgeable {
		t.Errorf("the walk deleted %d rows, want %d", total, purgeable)
	}
}

// TestIdlePurgeBatchPlanAtScale is TestPurgeBatchPlanAtScale for the idle
// phase, on a quarter of a million sessions: 5,000 unused for weeks, a
// minute apart, one in ten of them revoked lately (kept, though in the
// batches' ranges), and 245,000 used in the last hour (a million, tried
// once, gave the same estimates, 996 to 1,048 for a batch deleting 900, and
// took 13 s alone). Each batch's range is a batch of the
// index on last_used_at, and the planner must expect about the rows the
// batch deletes, not a share of the table.
//
// Filling the table takes the machine for a while: the test runs on its
// own, not in parallel, and gives the fill a deadline of its own.
func TestIdlePurgeBatchPlanAtScale(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, _ := newStore(t)
	const (
		unused = 5_000
		used   = 245_000
		batch  = 1000
	)
	_, err := conn.Exec(ctx, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at, revoked_at, last_used_at)
SELECT g, '\x00', 'user' || g % 1000, 16384 + g % 1000, now() + INTERVAL '30 days',
    CASE WHEN g <= $1::INT AND g % 10 = 0 THEN now() - INTERVAL '30 minutes' END,
    CASE WHEN g <= $1::INT THEN now() - INTERVAL '40 days' + g * INTERVAL '1 minute' ELSE now() - g % 3600 * INTERVAL '1 second' END
FROM generate_series(1, $1::INT + $2::INT) g`, unused, used)
	if err != nil {
		t.Fatal(err)
	}
	// An idle timeout of a day, and the default OlderThan of an hour.
	var cutoff time.Time
	if err := conn.QueryRow(ctx, "SELECT now() - INTERVAL '25 hours'").Scan(&cutoff); err != nil {
		t.Fatal(err)
	}
	w := newIndexWalk(idleSessions, cutoff, batch, batchAudit{actor: "admin", via: "cli", run: "test"})
	if total := walkExplained(t, conn, w, unused+used); total != unused*9/10 {
		t.Errorf("the walk deleted %d rows, want the %d live ones", total, unused*9/10)
	}
	if n := mustCount(t, conn, "system.web_sessions WHERE revoked_at IS NOT NULL"); n != unused/10 {
		t.Errorf("%d revoked sessions left, want all %d", n, unused/10)
	}
}

// walkExplained analyzes the sessions table, of tableRows rows, then runs
// index walk w to its end, explaining each batch's statement as the purge
// sends it before running it, and returns how many rows the walk deleted.
// Most batches must expect at most 4 times the rows they delete, and none
// more than 4 batches or a histogram bucket and a half; no plan may compile
// with JIT. jit_above_cost = 0 makes every plan that may compile do so, so a
// small table shows what a large one does; the setting must still be on
// after the walk, for the connection's next user.
func walkExplained(t *testing.T, conn *pgx.Conn, w *indexWalk, tableRows int) int64 {
	t.Helper()
	ctx := testContext(t)
	var jitAvailable bool
	for _, stmt := range []string{"ANALYZE system.web_sessions", "SET jit_above_cost = 0"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT pg_jit_available()").Scan(&jitAvailable); err != nil {
		t.Fatal(err)
	}
	if !jitAvailable {
		t.Log("this server has no JIT: only the estimates are checked")
	}
	var (
		total        int64
		batches, off int
	)
	for i := 0; ; i++ {
		query, args := w.statement(conn)
		var out []byte
		if err := queryBatch(ctx, conn, "EXPLAIN (FORMAT JSON) "+query, args, &out); err != nil {
			t.Fatalf("explain batch %d: %v", i, err)
		}
		var plans []struct {
			Plan json.RawMessage
			JIT  *struct{ Functions int }
		}
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("parse plan %s: %v", out, err)
		}
		estimate := -1.0
		var find func(json.RawMessage)
		find = func(raw json.RawMessage) {
			var n struct {
				NodeType string            `json:"Node Type"`
				Op       string            `json:"Operation"`
				Rows     float64           `json:"Plan Rows"`
				Plans    []json.RawMessage `json:"Plans"`
			}
			if err := json.Unmarshal(raw, &n); err != nil {
				t.Fatal(err)
			}
			if n.NodeType == "ModifyTable" && n.Op == "Delete" {
				estimate = n.Rows
			}
			for _, c := range n.Plans {
				find(c)
			}
		}
		find(plans[0].Plan)
		deleted, more, err := w.next(ctx, conn)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		rows := deleted[0].rows
		total += rows
		t.Logf("batch %d: estimated %.0f rows, deleted %d", i, estimate, rows)
		if plans[0].JIT != nil {
			t.Errorf("batch %d: plan compiled %d functions with JIT, want JIT off", i, plans[0].JIT.Functions)
		}
		if estimate < 0 {
			t.Fatalf("batch %d: no DELETE in plan %s", i, out)
		}
		if rows > 0 {
			batches++
			// Over, not under: an estimate far above the batch is what
			// made PostgreSQL JIT-compile every batch. Under-estimates
			// come and go with ANALYZE's random sample (2 rows for 100
			// in some runs) and cost nothing.
			if estimate > 4*float64(rows) {
				off++
			}
		}
		// The statistics are those of before the purge: as it empties the
		// first histogram bucket (1% of the table), the planner, which
		// reads the smallest live key from the index, squeezes the bucket's
		// rows into what is left of it. Nothing but that may go over.
		if bucket := float64(tableRows) / 100; estimate > 4*float64(w.batch) && estimate > 1.5*bucket {
			t.Errorf("batch %d: estimated %.0f rows, deleted %d, want at most %d (4x the batch) or %.0f (a histogram bucket)",
				i, estimate, rows, 4*w.batch, 1.5*bucket)
		}
		if !more {
			break
		}
	}
	var jit string
	if err := conn.QueryRow(ctx, "SHOW jit").Scan(&jit); err != nil || jit != "on" {
		t.Errorf("jit after the purge: %q, %v; want on: the purge turns it off for its own transactions alone", jit, err)
	}
	// Most batches estimated at most 4 times the rows they deleted.
	if off*10 > batches {
		t.Errorf("%d of %d batches estimated more than 4x the rows they deleted, want at most a tenth", off, batches)
	}
	return total
}
