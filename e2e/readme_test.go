package e2e

import (
	"context"
	"fmt"
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
	// block is the line of the block's opening fence when the block is
	// marked freshMarker, 0 otherwise.
	block int
}

// freshMarker, on the line before a code block, says that the block's
// transcripts, errors or not, print what they show when run in order on a
// database of their own where nothing has run yet.
const freshMarker = "<!-- transcript checked on a new database -->"

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
// left out; every transcript of a block right after freshMarker is in,
// error or not.
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
	inBlock, skip, block := false, false, 0
	flush := func() {
		if cur != nil && (block > 0 || strings.HasPrefix(cur.output, "ERROR: ") && !skip) {
			cur.block = block
			out = append(out, *cur)
		}
		cur = nil
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "```"):
			flush()
			block = 0
			if !inBlock {
				skip = i > 0 && strings.HasPrefix(lines[i-1], "<!-- transcript not checked")
				if i > 0 && lines[i-1] == freshMarker {
					block = i + 1
				}
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
	fresh := map[string]string{} // the database of each marked block
	for _, tr := range transcripts {
		url := dbURL
		if tr.block > 0 {
			key := fmt.Sprintf("%s:%d", tr.file, tr.block)
			if fresh[key] == "" {
				name := fmt.Sprintf("fresh_%d", len(fresh)+1)
				pgtest.MustExec(t, c.SuperURL("postgres"), "CREATE DATABASE "+name)
				fresh[key] = c.URL(c.SuperUser, "", name)
			}
			url = fresh[key]
		}
		cmd := "AUTH_SESSION_URL='" + url + "'; export AUTH_SESSION_URL; " + tr.command + " 2>&1"
		r := sh(t, dir, cmd)
		if r.stdout != tr.output {
			t.Errorf("%s:%d: $ %s\nprints:\n%s\nthe page shows:\n%s", tr.file, tr.line, tr.command, r.stdout, tr.output)
		}
	}
	if len(fresh) == 0 {
		t.Errorf("no block of the README or docs/ is marked %q; want at least init's", freshMarker)
	}
	t.Logf("%d transcripts of the README and docs/ checked, %d blocks on a new database", len(transcripts), len(fresh))
}
