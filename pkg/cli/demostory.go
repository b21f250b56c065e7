package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/auth-session/auth-session/internal/lazyregexp"
)

// demoStory runs the story of `demo --run-story` with this binary and curl,
// through /bin/sh, so that what it prints is exactly what it ran.
type demoStory struct {
	// exe is this binary, which the story's commands call by its name.
	exe string
}

func newDemoStory() (*demoStory, error) {
	if _, err := exec.LookPath("curl"); err != nil {
		return nil, hintError{msg: "demo --run-story runs curl, which is not on PATH", hint: "install it: apt-get install curl"}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary for the demo story: %w", err)
	}
	return &demoStory{exe: exe}, nil
}

// storyResult is what a story step's command did.
type storyResult struct {
	output   string
	exitCode int
}

type storyStep struct {
	title   string
	command string
	// check returns why the result is not the expected one, or nil.
	check func(r storyResult) error
}

// plainCommandName matches a binary name that needs no quoting in sh.
var plainCommandName = lazyregexp.New(`^[A-Za-z0-9._-]+$`)

// run runs the story against the demo's database and HTTP interface,
// printing each command and its output to out.
func (s *demoStory) run(ctx context.Context, out io.Writer, dbURL, httpURL string) error {
	dir, err := os.MkdirTemp("", "auth-session-demo-story-")
	if err != nil {
		return fmt.Errorf("make the demo story's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	env := append(os.Environ(),
		"AUTH_SESSION_URL="+dbURL,
		"PATH="+filepath.Dir(s.exe)+string(os.PathListSeparator)+os.Getenv("PATH"))
	name := filepath.Base(s.exe)
	if !plainCommandName().MatchString(name) {
		name = "'" + strings.ReplaceAll(s.exe, "'", `'\''`) + "'"
	}

	whoami := `curl -sS -w '\nHTTP %{http_code}\n' --cookie "$(cat cookie.txt)" ` + httpURL + "/api/v2/whoami"
	var sessionID string
	loggedIn := func(r storyResult) error {
		if r.exitCode != 0 || !strings.Contains(r.output, "authentication cookie") || !strings.Contains(r.output, "session=") {
			return errors.New("want exit 0 and a table with the authentication cookie")
		}
		return nil
	}
	steps := []storyStep{
		{
			title:   "log in to the HTTP interface as " + demoUser + " (the seed's first example)",
			command: name + " login " + demoUser + " --format table",
			check:   loggedIn,
		},
		{
			title:   "log in with a custom expiry of 4 hours 30 minutes",
			command: name + " login " + demoUser + " --expire-after=4h30m --format table",
			check:   loggedIn,
		},
		{
			title:   "log in as " + demoUser + ", keeping the cookie line in a file",
			command: name + " login " + demoUser + " --insecure --only-cookie > cookie.txt && cat cookie.txt",
			check: func(r storyResult) error {
				if r.exitCode != 0 || !strings.HasPrefix(r.output, "session=") {
					return errors.New("want exit 0 and a session= cookie line")
				}
				return nil
			},
		},
		{
			title:   "the cookie authenticates to the HTTP interface",
			command: whoami,
			check: func(r storyResult) error {
				var who struct {
					Username  string `json:"username"`
					SessionID string `json:"session_id"`
				}
				first, _, _ := strings.Cut(r.output, "\n")
				if !strings.Contains(r.output, "HTTP 200") || json.Unmarshal([]byte(first), &who) != nil || who.Username != demoUser {
					return fmt.Errorf("want HTTP 200 and username %s", demoUser)
				}
				sessionID = who.SessionID
				return nil
			},
		},
		{
			title:   "log out: revoke every session of " + demoUser,
			command: name + " logout " + demoUser,
			check: func(r storyResult) error {
				if r.exitCode != 0 || !strings.Contains(r.output, sessionID) {
					return fmt.Errorf("want exit 0 and session %s in the output", sessionID)
				}
				return nil
			},
		},
		{
			title:   "the same cookie is refused at once",
			command: whoami,
			check: func(r storyResult) error {
				if !strings.Contains(r.output, "HTTP 401") {
					return errors.New("want HTTP 401")
				}
				return nil
			},
		},
		{
			title:   "list shows the session revoked",
			command: name + " list --user " + demoUser + " --format ndjson",
			check: func(r storyResult) error {
				if r.exitCode == 0 && sessionRevokedIn(r.output, sessionID) {
					return nil
				}
				return fmt.Errorf("want session %s with a revoked time", sessionID)
			},
		},
		{
			title:   "list all sessions, as an admin sees them",
			command: name + " list --format table",
			check: func(r storyResult) error {
				if r.exitCode != 0 || !strings.Contains(r.output, sessionID) {
					return fmt.Errorf("want exit 0 and session %s listed", sessionID)
				}
				return nil
			},
		},
	}

	for i, step := range steps {
		fmt.Fprintf(out, "\n# %d. %s\n$ %s\n", i+1, step.title, step.command)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", step.command)
		cmd.Dir, cmd.Env = dir, env
		output, err := cmd.CombinedOutput()
		out.Write(output) //nolint:errcheck // the check below decides
		result := storyResult{output: string(output)}
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr):
			result.exitCode = exitErr.ExitCode()
		case err != nil:
			return fmt.Errorf("demo story step %d: run %q: %w", i+1, step.command, err)
		}
		if err := step.check(result); err != nil {
			return hintError{msg: fmt.Sprintf("demo story step %d (%s) went wrong: %v", i+1, step.title, err),
				hint: "the output above shows what happened instead"}
		}
	}
	fmt.Fprintf(out, "\nThe story went as expected: login, whoami 200, logout, whoami 401, list shows the session revoked.\n")
	return nil
}

// sessionRevokedIn reports whether ndjson list output has session id with
// a revoked time.
func sessionRevokedIn(ndjson, id string) bool {
	lines := bufio.NewScanner(strings.NewReader(ndjson))
	for lines.Scan() {
		var row struct {
			ID        string  `json:"id"`
			RevokedAt *string `json:"revoked_at"`
		}
		if json.Unmarshal(lines.Bytes(), &row) == nil && row.ID == id && row.RevokedAt != nil {
			return true
		}
	}
	return false
}
