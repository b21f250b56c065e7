package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion is urfave/cli's: with EnableBashCompletion the app
// answers a command line ending in --generate-bash-completion with the
// commands or flags that may come next. The bash and zsh scripts that ask
// it are the ones urfave/cli ships in its autocomplete directory, with the
// program's name filled in; fish's is generated from the command tree.

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
  local request=("${words[@]:0:$cword}")
  if [[ "$cur" == "-"* ]]; then
    request+=("$cur")
  fi
  local opts
  opts=$("${request[@]}" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
}
complete -o bashdefault -o default -F _auth_session_complete auth-session
`

const zshCompletion = `#compdef auth-session
# zsh completion for auth-session; put it on $fpath as _auth-session
_auth_session() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _auth_session auth-session
`

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

func manCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page, generated from the commands' help (man -l <(auth-session man))",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			page, err := c.App.ToMan()
			if err != nil {
				return fmt.Errorf("generate the manual page: %w", err)
			}
			fmt.Fprint(env.IO.Out, page)
			return nil
		},
	}
}
