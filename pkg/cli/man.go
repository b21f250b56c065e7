package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// The manual page is written here rather than by urfave/cli's ToMan, whose
// page is in section 8 and gives each command its one-line usage and flags
// only: ours is in section 1, where make install puts it, and gives each
// command its description, its flags as --help shows them, and its
// examples. It is roff, with the few escapes text needs.

func manCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page, generated from the commands' help (man -l <(auth-session man))",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			writeMan(env.IO.Out, c.App)
			return nil
		},
	}
}

// writeMan writes app's manual page, section 1, to w.
func writeMan(w io.Writer, app *cli.App) {
	fmt.Fprintf(w, ".TH %s 1 \"\" \"%s\" \"User Commands\"\n", strings.ToUpper(app.Name), roffEscape(app.Name))
	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", app.Name, roffEscape(app.Usage))
	fmt.Fprintf(w, ".SH SYNOPSIS\n.B %s\n.I command\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n", app.Name)
	fmt.Fprintf(w, ".SH DESCRIPTION\n")
	writeManText(w, app.Description)
	fmt.Fprintf(w, ".PP\n\\fB%s \\-\\-version\\fR prints the version; \\fB%s COMMAND \\-\\-help\\fR a command's help.\n",
		app.Name, app.Name)
	fmt.Fprintf(w, ".SH COMMANDS\n")
	for _, cmd := range app.Commands {
		if !cmd.Hidden {
			writeManCommand(w, app.Name, cmd)
		}
	}
	fmt.Fprintf(w, ".SH EXIT STATUS\n")
	for _, s := range []struct {
		code int
		what string
	}{
		{ExitOK, "done; also events --follow ended by Ctrl-C or SIGTERM, its usual end"},
		{ExitRuntime, "failed, or the answer at a prompt was no"},
		{ExitUsage, "bad usage: an unknown command or flag, a bad flag value or argument"},
		{ExitInterrupted, "interrupted (Ctrl-C) at a prompt; nothing was changed"},
	} {
		fmt.Fprintf(w, ".TP\n.B %d\n%s\n", s.code, s.what)
	}
	fmt.Fprintf(w, ".SH SEE ALSO\n.BR psql (1),\n.BR curl (1).\nThe reference is in the docs/ directory of the source.\n")
}

// writeManCommand writes cmd's subsection: synopsis, usage, description,
// flags by category, examples.
func writeManCommand(w io.Writer, appName string, cmd *cli.Command) {
	fmt.Fprintf(w, ".SS %s\n", cmd.Name)
	fmt.Fprintf(w, ".B %s %s\n[\\fIoptions\\fR]", appName, cmd.Name)
	if cmd.ArgsUsage != "" {
		fmt.Fprintf(w, " %s", roffEscape(cmd.ArgsUsage))
	}
	fmt.Fprintf(w, "\n.PP\n%s\n", roffEscape(capitalize(cmd.Usage)+"."))
	writeManText(w, cmd.Description)
	categories := cmd.VisibleFlagCategories()
	if len(categories) == 0 {
		writeManFlags(w, "Options", cmd.VisibleFlags())
	}
	for _, cat := range categories {
		var flags []cli.Flag
		for _, f := range cat.Flags() {
			flags = append(flags, f)
		}
		name := cat.Name()
		if name == "" {
			name = "Options"
		}
		writeManFlags(w, name, flags)
	}
	if examples := commandExamples[cmd.Name]; len(examples) > 0 {
		fmt.Fprintf(w, ".PP\n\\fIExamples\\fR\n.RS\n.nf\n")
		for _, line := range examples {
			fmt.Fprintf(w, "%s\n", roffEscape(line))
		}
		fmt.Fprintf(w, ".fi\n.RE\n")
	}
}

// writeManFlags writes flags as --help shows them: names and value, then
// usage, default and environment variable.
func writeManFlags(w io.Writer, heading string, flags []cli.Flag) {
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(w, ".PP\n\\fI%s\\fR\n", roffEscape(heading))
	for _, f := range flags {
		names, usage, _ := strings.Cut(f.String(), "\t")
		fmt.Fprintf(w, ".TP\n.B %s\n%s\n", roffEscape(names), roffEscape(usage))
	}
}

// writeManText writes a description: its blank lines part paragraphs and
// its indented lines (commands, tables) are kept as they are.
func writeManText(w io.Writer, text string) {
	if text == "" {
		return
	}
	fmt.Fprintf(w, ".PP\n")
	verbatim := false
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		indented := strings.HasPrefix(line, " ")
		switch {
		case strings.TrimSpace(line) == "":
			if verbatim {
				fmt.Fprintf(w, ".fi\n.RE\n")
				verbatim = false
			}
			fmt.Fprintf(w, ".PP\n")
			continue
		case indented && !verbatim:
			fmt.Fprintf(w, ".RS\n.nf\n")
			verbatim = true
		case !indented && verbatim:
			fmt.Fprintf(w, ".fi\n.RE\n")
			verbatim = false
		}
		if indented {
			line = strings.TrimLeft(line, " ")
		}
		fmt.Fprintf(w, "%s\n", roffEscape(line))
	}
	if verbatim {
		fmt.Fprintf(w, ".fi\n.RE\n")
	}
}

// roffEscape makes s print as it is: a backslash is roff's escape, a dash
// must not become a hyphen (flags are copied from man pages), and a line
// starting with a dot or quote would be read as a request.
func roffEscape(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
