package sql

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// checkPlanNode is the part of EXPLAIN (FORMAT JSON) that
// TestSessionCheckCostDoesNotGrowWithRoles reads.
type checkPlanNode struct {
	NodeType           string          `json:"Node Type"`
	RelationName       string          `json:"Relation Name"`
	ParentRelationship string          `json:"Parent Relationship"`
	Plans              []checkPlanNode `json:"Plans"`
}

// TestSessionCheckCostDoesNotGrowWithRoles: with a thousand roles, the
// check of a few sessions probes each session's role and its user's
// logout, never hashing all of pg_authid or of the logouts (whose cost
// grows with them), and reads the logout of everyone once, as an init
// plan, whatever the number of sessions; as a custom plan and as the
// generic plan that serve's prepared statement switches to.
func TestSessionCheckCostDoesNotGrowWithRoles(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	prefix := fmt.Sprintf("checkplan_%d_", conn.PgConn().PID())
	create := fmt.Sprintf(`DO $$BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE ROLE %%I NOLOGIN', '%s' || i); END LOOP; END$$`, prefix)
	if _, err := conn.Exec(ctx, create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		drop := fmt.Sprintf(`DO $$BEGIN FOR i IN 1..1000 LOOP EXECUTE format('DROP ROLE IF EXISTS %%I', '%s' || i); END LOOP; END$$`, prefix)
		if _, err := conn.Exec(testContext(t), drop); err != nil {
			t.Error(err)
		}
	})
	if _, err := conn.Exec(ctx, "ANALYZE pg_catalog.pg_authid"); err != nil {
		t.Fatal(err)
	}
	for _, generic := range []bool{false, true} {
		mode := "force_custom_plan"
		if generic {
			mode = "force_generic_plan"
		}
		for _, stmt := range []string{"SET plan_cache_mode = " + mode, "PREPARE q AS " + checkSessions} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var out []byte
		err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE q(ARRAY[15, 16, 17, 18, 19, 20, 21, 22]::BIGINT[], 60000000, 0)").Scan(&out)
		if _, err := conn.Exec(ctx, "DEALLOCATE q"); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		var plans []struct{ Plan checkPlanNode }
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("parse plan %s: %v", out, err)
		}
		everyoneOnce := false
		var walk func(n checkPlanNode, underHash bool)
		walk = func(n checkPlanNode, underHash bool) {
			underHash = underHash || n.NodeType == "Hash"
			if underHash && (n.RelationName == "pg_authid" || n.RelationName == "web_session_logouts") {
				t.Errorf("generic %v: hashes all of %s: %s", generic, n.RelationName, compactPlan(out))
			}
			if n.ParentRelationship == "InitPlan" && n.RelationName == "web_session_logouts" {
				everyoneOnce = true
			}
			for _, c := range n.Plans {
				walk(c, underHash)
			}
		}
		walk(plans[0].Plan, false)
		if !everyoneOnce {
			t.Errorf("generic %v: the logout of everyone is not read once, as an init plan: %s", generic, compactPlan(out))
		}
	}
}

// compactPlan is EXPLAIN's JSON on one line, for a test's message.
func compactPlan(out []byte) string {
	return strings.Join(strings.Fields(string(out)), " ")
}
