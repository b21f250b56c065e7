package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// transcript is one "$ command" of the README or of a page of docs/, and
// the lines it printed.
type transcript struct {
	file    string
	line    int
	command string
	output  string
}

// transcriptFiles are the pages whose error transcripts are checked: the
// README and every page of docs/ (docs/commands is the commands' help).
func transcriptFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../README.md"}, pages...)
}

// readmeTranscripts returns the transcripts of the README and of docs/
// that print an error: what they print depends on nothing but the binary
// and the database's roles, so it must be exactly what the binary prints.
// A code block right after a line "<!-- transcript not checked: WHY -->" is
// left out.
func readmeTranscripts(t *testing.T) []transcript {
	t.Helper()
	var out []transcript
	for _, file := range transcriptFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fileTranscripts(strings.TrimPrefix(file, "../"), string(b))...)
	}
	return out
}

// fileTranscripts returns the error transcripts of one markdown file.
func fileTranscripts(file, text string) []transcript {
	var out []transcript
	var cur *transcript
	inBlock, skip := false, false
	flush := func() {
		if cur != nil && strings.HasPrefix(cur.output, "ERROR: ") && !skip {
			out = append(out, *cur)
		}
		cur = nil
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "```"):
			flush()
			if !inBlock {
				skip = i > 0 && strings.HasPrefix(lines[i-1], "<!-- transcript not checked")
			}
			inBlock = !inBlock
		case !inBlock:
		case strings.HasPrefix(line, "$ "):
			flush()
			cur = &transcript{file: file, line: i + 1, command: strings.TrimPrefix(line, "$ ")}
		case cur != nil:
			cur.output += line + "\n"
		}
	}
	return out
}

// TestREADMETranscripts runs every error transcript of the README and of
// docs/ against a database set up as their examples assume (web_user, and bob who is
// no admin), and compares what the binary prints with what the README shows.
func TestREADMETranscripts(t *testing.T) {
	t.Parallel()
	transcripts := readmeTranscripts(t)
	if len(transcripts) < 10 {
		t.Fatalf("found %d error transcripts in the README and docs/; want the dozen or more they have", len(transcripts))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Trust: the README's --sql-user bob connects without a password.
	c, err := pgcluster.Start(ctx, pgcluster.Options{HostAuth: pgcluster.AuthTrust, StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() }) //nolint:errcheck
	dbURL := c.URL(c.SuperUser, "", "postgres")
	if r := run(t, "init", "--url", dbURL); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	pgtest.MustExec(t, c.SuperURL("postgres"), "CREATE ROLE web_user LOGIN; CREATE ROLE bob LOGIN")
	dir := t.TempDir()
	for _, tr := range transcripts {
		cmd := "AUTH_SESSION_URL='" + dbURL + "'; export AUTH_SESSION_URL; " + tr.command + " 2>&1"
		r := sh(t, dir, cmd)
		if r.stdout != tr.output {
			t.Errorf("%s:%d: $ %s\nprints:\n%s\nthe page shows:\n%s", tr.file, tr.line, tr.command, r.stdout, tr.output)
		}
	}
	t.Logf("%d transcripts of the README and docs/ checked", len(transcripts))
}
