package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/internal/lazyregexp"
)

// PasswordPrompt says when a command asks for the database password on its
// terminal, as psql's -W and -w do.
type PasswordPrompt int

const (
	// PasswordWhenNeeded asks when the server wants a password that no
	// setting gave (the URL, PGPASSWORD, ~/.pgpass), as psql does.
	PasswordWhenNeeded PasswordPrompt = iota
	// PasswordFirst (-W) asks before connecting.
	PasswordFirst
	// PasswordNever (-w) never asks.
	PasswordNever
)

// connectAsking is connectConfig with the password asked for on
// o.terminal, as psql does: before connecting under -W; else, when the
// server wants a password that no setting gave (pgx reads PGPASSWORD and
// ~/.pgpass itself), and only then, unless -w. A typed password stays in
// cfg, for the connections that follow (serve's pool). A password the
// server refuses, or none where it wants one, is an error that says where
// the password came from and where to put it; it never holds the password.
func (o ConnOptions) connectAsking(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	typed := false
	if o.Password == PasswordFirst && o.terminal != nil {
		if err := askPassword(ctx, o.terminal, cfg); err != nil {
			return nil, err
		}
		typed = true
	}
	conn, err := connectConfig(ctx, cfg)
	if passwordRefused(err) && cfg.Password == "" && !typed && o.Password == PasswordWhenNeeded && o.terminal != nil {
		if err := askPassword(ctx, o.terminal, cfg); err != nil {
			return nil, err
		}
		typed = true
		if cfg.Password != "" {
			conn, err = connectConfig(ctx, cfg)
		}
	}
	if passwordRefused(err) {
		return nil, o.passwordError(cfg, typed, err)
	}
	return conn, err
}

// askPassword asks for the password of cfg's user on the terminal, as psql
// words it, and puts it in cfg.
func askPassword(ctx context.Context, terminal *IOStreams, cfg *pgx.ConnConfig) error {
	password, err := readPassword(ctx, terminal, fmt.Sprintf("Password for user %s: ", cfg.User))
	if err != nil {
		return err
	}
	cfg.Password = password
	return nil
}

// passwordRefused reports whether err is the server's refusal of a
// password, or of its absence: PostgreSQL's 28P01 (invalid_password), which
// every password method answers to an empty password too, or the words
// pgbouncer uses for its own refusal, with 08P01.
func passwordRefused(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "28P01" || pgErr.Code == "08P01" &&
		(strings.Contains(pgErr.Message, "password authentication failed") || strings.Contains(pgErr.Message, "SASL authentication failed"))
}

// passwordError says that the server wanted a password and had none, or
// refused the one it was given, where that one came from, and what to do.
func (o ConnOptions) passwordError(cfg *pgx.ConnConfig, typed bool, err error) error {
	var pgErr *pgconn.PgError
	errors.As(err, &pgErr)
	target := describeTarget(cfg)
	store := fmt.Sprintf("%s (a line %s, mode 0600) or PGPASSWORD", passfileName(), pgpassLine(cfg))
	if cfg.Password == "" {
		msg := fmt.Sprintf("connect to %s: a password is required for user %q, and none was given", target, cfg.User)
		hint := "put it in " + store
		switch {
		case typed:
			msg = fmt.Sprintf("connect to %s: a password is required for user %q, and none was typed", target, cfg.User)
			hint += ", or type it at the prompt"
		case o.noPasswordFlags:
			hint += ", or in the URL"
		case o.Password == PasswordNever:
			hint += ", or give -W instead of -w to type it on a terminal"
		default:
			hint += ", or give -W to type it on a terminal"
		}
		return hintError{msg: msg, hint: hint, code: pgErr.Code}
	}
	source, hint := "typed at the prompt", "check it and try again, or put it in "+store
	switch {
	case typed:
	case connStringHasPassword(o.URL):
		source = "in the connection URL (--url or AUTH_SESSION_URL)"
		hint = "correct it there, or leave it out of the URL and put it in " + store
	case os.Getenv("PGPASSWORD") != "":
		source = "in PGPASSWORD"
		hint = fmt.Sprintf("correct PGPASSWORD, or unset it to use %s (a line %s, mode 0600)", passfileName(), pgpassLine(cfg))
	default:
		source = "in " + passfileName()
		hint = fmt.Sprintf("correct its line for %s (%s), or set PGPASSWORD", cfg.User, pgpassLine(cfg))
	}
	if !typed && !o.noPasswordFlags {
		hint += "; -W asks for it on a terminal instead"
	}
	return hintError{msg: fmt.Sprintf("connect to %s: the server refused the password for user %q (%s)", target, cfg.User, source),
		hint: hint, code: pgErr.Code}
}

// passfileName names the password file pgx reads.
func passfileName() string {
	if f := os.Getenv("PGPASSFILE"); f != "" {
		return f
	}
	return "~/.pgpass"
}

// pgpassLine is the password file line for cfg, with PASSWORD in place of
// the password: host:port:database:user:PASSWORD, with ':' and '\'
// escaped, and localhost for a socket, as libpq and pgx look it up.
func pgpassLine(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = "localhost"
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return fmt.Sprintf("%s:%d:%s:%s:PASSWORD", esc.Replace(host), cfg.Port, esc.Replace(cfg.Database), esc.Replace(cfg.User))
}

// keywordPassword finds password in a keyword/value connection string.
var keywordPassword = lazyregexp.New(`(?:^|\s)password\s*=`)

// connStringHasPassword reports whether the connection string s gives a
// password itself, which pgx prefers to PGPASSWORD and the password file.
func connStringHasPassword(s string) bool {
	if !isURL(s) {
		return keywordPassword().MatchString(s)
	}
	// Read from the text, as net/url refuses a URL with several hosts.
	_, rest, _ := strings.Cut(s, "://")
	head, query, _ := strings.Cut(rest, "?")
	if at := strings.LastIndex(head, "@"); at >= 0 && strings.Contains(head[:at], ":") {
		return true
	}
	q, err := url.ParseQuery(query)
	return err == nil && q.Get("password") != ""
}
