package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestManPage: the manual page is in section 1, where make install puts
// it, and holds every command's description, flags and examples.
func TestManPage(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "man")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("man: exit %d, stderr %q", r.code, r.stderr)
	}
	if th := regexp.MustCompile(`(?m)^\.TH .*$`).FindString(r.stdout); !regexp.MustCompile(`^\.TH "?(?i:auth-session)"? "?1"?( |$)`).MatchString(th) {
		t.Errorf("title line %q: want section 1", th)
	}
	page := unroff(r.stdout)
	env, _, _ := newEnv(terminals{})
	for _, cmd := range NewApp(env).Commands {
		var want []string
		for _, line := range strings.Split(cmd.Description, "\n") {
			want = append(want, strings.TrimSpace(line))
		}
		for _, f := range cmd.VisibleFlags() {
			want = append(want, dashed(f.Names()[0]), strings.ReplaceAll(f.(cli.DocGenerationFlag).GetUsage(), "`", ""))
		}
		want = append(want, commandExamples[cmd.Name]...)
		if len(commandExamples[cmd.Name]) == 0 {
			t.Errorf("%s has no examples", cmd.Name)
		}
		section := manSection(page, cmd.Name)
		for _, w := range want {
			if w != "" && !strings.Contains(section, w) {
				t.Errorf("the man page's section of %s lacks %q", cmd.Name, w)
			}
		}
	}
}

// unroff undoes the escapes of a man page's text that matter here.
func unroff(s string) string {
	s = regexp.MustCompile(`\\f[BIRP]`).ReplaceAllString(s, "")
	return strings.NewReplacer(`\-`, "-", `\(aq`, "'", `\(dq`, `"`, `\&`, "", `\e`, `\`, `\\`, `\`).Replace(s)
}

// manSection returns the part of page about command name: from its heading
// to the next command's.
func manSection(page, name string) string {
	heading := regexp.MustCompile(`(?m)^\.S[SH] "?` + regexp.QuoteMeta(name) + `"?$`)
	loc := heading.FindStringIndex(page)
	if loc == nil {
		return ""
	}
	rest := page[loc[1]:]
	if next := regexp.MustCompile(`(?m)^\.S[SH] `).FindStringIndex(rest); next != nil {
		rest = rest[:next[0]]
	}
	return rest
}

// TestExamplesLiveInOnePlace: a command's examples are in commandExamples,
// which help, the man page and docs/commands show and e2e
// TestHelpExamples runs; a description that holds its own command lines
// would show them twice and let them drift untested.
func TestExamplesLiveInOnePlace(t *testing.T) {
	env, _, _ := newEnv(terminals{})
	for _, cmd := range NewApp(env).Commands {
		for _, c := range append([]*cli.Command{cmd}, cmd.Subcommands...) {
			for _, line := range strings.Split(c.Description, "\n") {
				if l := strings.TrimSpace(line); strings.HasPrefix(l, "auth-session ") || strings.HasPrefix(l, "$ ") || strings.Contains(l, "| auth-session") {
					t.Errorf("%s's description holds an example, %q: move it to commandExamples", c.Name, l)
				}
			}
		}
	}
}
