// Package cli implements the auth-session commands: one file per
// subcommand, each with a constructor for its *cli.Command and a run
// function that takes an options struct (flags, IO streams, a database
// opener, a clock), so every command can be tested without a terminal.
//
// app.go builds the application, flags.go holds the shared flags,
// errors.go turns every error into a message and an exit code, and all
// result sets are printed through pkg/format.
package cli
