package cli

import (
	"strings"
	"testing"
)

// TestNoHeaders: --no-headers prints the rows alone in table, tsv and csv,
// as psql -t does, so that a column cut from list feeds straight back into
// another command; other formats refuse it.
func TestNoHeaders(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	all := mustRun(t, "list", "--format", "tsv", "--url", dbURL).stdout
	rows := strings.Count(all, "\n") - 1
	for _, f := range []string{"tsv", "csv", "table"} {
		r := mustRun(t, "list", "--format", f, "--no-headers", "--url", dbURL)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != rows || strings.Contains(r.stdout, "username") || strings.Contains(r.stdout, "rows)") ||
			!strings.Contains(r.stdout, "\nweb_user") && !strings.Contains(r.stdout, "  web_user") {
			t.Errorf("list --format %s --no-headers: %q; want the %d rows alone", f, r.stdout, rows)
		}
	}
	r := mustRun(t, "list", "--summary", "--format", "tsv", "--no-headers", "--url", dbURL)
	if strings.HasPrefix(r.stdout, "username") {
		t.Errorf("list --summary --no-headers starts with the header: %q", r.stdout)
	}
	r = runCLI(t, "list", "--format", "json", "--no-headers", "--url", dbURL)
	if r.code != 2 || !strings.Contains(r.stderr, "--no-headers applies to --format table, tsv and csv, not json") {
		t.Errorf("list --format json --no-headers: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}
