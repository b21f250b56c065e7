package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Shell completion: the scripts below run the command line typed so far,
// with the word under the cursor (possibly empty) and completionFlag
// appended, and offer what it prints, one candidate a line. Main answers
// such a line with complete and nothing else: it never runs a command, so
// a Tab can never log anyone out (urfave/cli's own answering ran the
// command when the words held a "--"). fish's script is urfave/cli's,
// generated from the command tree, and never runs the program.

// completionFlag asks for completions; the name is urfave/cli's protocol.
const completionFlag = "--generate-bash-completion"

const bashCompletion = `# bash completion for auth-session; source it, or install it as
# /usr/share/bash-completion/completions/auth-session
_auth_session_complete() {
  local cur words cword
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  local opts
  opts=$("${words[@]:0:$cword}" "$cur" ` + completionFlag + ` 2>/dev/null)
  if [[ -n "$opts" ]]; then
    # A flag with a fixed set of values offers those, never file names.
    compopt +o default +o bashdefault 2>/dev/null
    COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  fi
}
complete -o bashdefault -o default -F _auth_session_complete auth-session
`

const zshCompletion = `#compdef auth-session
# zsh completion for auth-session; put it on $fpath as _auth-session
_auth_session() {
  local -a opts
  opts=("${(@f)$(${words[@]:0:$CURRENT-1} "${words[$CURRENT]}" ` + completionFlag + ` 2>/dev/null)}")
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _auth_session auth-session
`

// completionRequest returns the words typed after the program name up to
// and with the one under the cursor, and whether args are a completion
// request at all: completionFlag anywhere makes them one (the scripts put
// it last), so that no command runs with it.
func completionRequest(args []string) ([]string, bool) {
	i := slices.Index(args, completionFlag)
	if i < 1 {
		return nil, false
	}
	return args[1:i], true
}

// complete prints to w what may replace the last of words (the word under
// the cursor): commands, flags, or the values of a flag that takes one of
// a fixed set, whether or not they begin with the word under the cursor.
// It prints nothing where the scripts should offer file names or nothing
// better is known (user names).
func complete(w io.Writer, app *cli.App, words []string) {
	cur := ""
	if len(words) > 0 {
		cur, words = words[len(words)-1], words[:len(words)-1]
	}
	var candidates []string
	if len(words) == 0 {
		if strings.HasPrefix(cur, "-") {
			candidates = []string{"--help", "--version"}
		} else {
			for _, c := range app.Commands {
				if !c.Hidden {
					candidates = append(candidates, c.Name)
				}
			}
		}
	} else if cmd := app.Command(words[0]); cmd != nil {
		candidates = completeCommand(cmd, words[1:], cur)
	}
	// The shells keep those that begin with cur: a flag's values are all
	// printed, so that none matching tells the script to offer nothing,
	// not file names.
	for _, c := range candidates {
		fmt.Fprintln(w, c)
	}
}

// completeCommand returns what may stand at cur after cmd's words.
func completeCommand(cmd *cli.Command, words []string, cur string) []string {
	takesValue := valueFlags(cmd)
	prev := ""
	if n := len(words); n > 0 {
		prev = words[n-1]
		if prev == "=" && n > 1 {
			// bash without bash-completion splits --format=ts at the "=".
			prev = words[n-2]
		}
	}
	if !slices.Contains(words, "--") {
		if name, ok := strings.CutPrefix(prev, "-"); ok && takesValue[strings.TrimPrefix(name, "-")] {
			return flagValues(strings.TrimPrefix(name, "-"))
		}
		if name, _, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "--") {
			var out []string
			for _, v := range flagValues(strings.TrimPrefix(name, "--")) {
				out = append(out, name+"="+v)
			}
			return out
		}
		if strings.HasPrefix(cur, "-") {
			var out []string
			for _, f := range cmd.Flags {
				if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
					continue // such as --user where it is refused (notSQLUserFlag)
				}
				for _, name := range f.Names() {
					out = append(out, dashed(name))
				}
			}
			return out
		}
	}
	if cmd.Name == "completion" && len(words) == 0 {
		return completionShells
	}
	return nil
}

// flagValues are the values of the flags that take one of a fixed set.
func flagValues(name string) []string {
	switch name {
	case flagFormat:
		return format.Names()
	case flagState:
		return append(slices.Clone(sql.States), stateAll)
	case "order":
		return sql.Orders
	case flagVia:
		return sql.Vias
	case flagEvent:
		return sql.EventTypes
	case "log-level":
		return []string{"debug", "info", "warn", "error"}
	}
	return nil
}

// completionShells are the shells completion prints a script for.
var completionShells = []string{"bash", "zsh", "fish"}

func completionCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: "completion prints a script that completes auth-session's commands and flags.\n" +
			"Load it in the running shell, or install it where the shell looks\n" +
			"(make install does).",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "shell"); err != nil {
				return err
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				fmt.Fprint(env.IO.Out, bashCompletion)
			case "zsh":
				fmt.Fprint(env.IO.Out, zshCompletion)
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("generate the fish completion: %w", err)
				}
				fmt.Fprint(env.IO.Out, script)
			default:
				return usageErrorf("invalid SHELL %q: want %s", shell, strings.Join(completionShells, ", "))
			}
			return nil
		},
	}
}
