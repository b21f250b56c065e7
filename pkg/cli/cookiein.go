package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/auth-session/auth-session/pkg/auth"
)

// A cookie given to lookup and revoke --cookie is read from standard input,
// never from an argument: an argument stays in the shell's history and is
// shown by ps to every user of the machine while the command runs.

// cookieOnStdin is the usage errors' advice on how to give a cookie.
const cookieOnStdin = "pipe it in, as in 'auth-session login web_user --only-cookie | auth-session lookup', or paste it at the prompt on a terminal"

// cookieArgRefused is the usage error of a cookie, or anything, given as
// an argument where it is read from standard input. It does not repeat the
// argument: it may be the cookie.
func cookieArgRefused(what string) error {
	return usageErrorf("%s: the cookie is read from standard input, never from an argument, which would stay in the shell history and show in ps to every user of the machine; %s", what, cookieOnStdin)
}

// maxCookieText bounds what is read from standard input for a cookie: a
// cookie jar of many cookies fits.
const maxCookieText = 1 << 20

// readCookie reads a session cookie from standard input, in any form
// auth.ValueFromText accepts, and returns its session id and secret. On a
// terminal it asks for one line and does not echo it, as a password; else
// it reads to the end of input. Its errors never hold what was read.
func readCookie(ctx context.Context, command string, streams *IOStreams) (sessionID int64, secret []byte, err error) {
	var text string
	if streams.InIsTerminal {
		text, err = readPassword(ctx, streams, "Session cookie (not shown): ")
		var c cancelled
		if errors.As(err, &c) {
			return 0, nil, cancelled{command: command, interrupted: true}
		}
	} else {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(streams.In, maxCookieText+1))
		if len(b) > maxCookieText {
			return 0, nil, usageErrorf("standard input holds more than %d bytes: want one session cookie", maxCookieText)
		}
		text = string(b)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read the session cookie from standard input: %w", err)
	}
	value, err := auth.ValueFromText(text)
	switch {
	case errors.Is(err, auth.ErrNoSessionValue):
		return 0, nil, usageErrorf("no session cookie on standard input: want one as login prints it (%s=...; Path=/; HttpOnly), a Cookie: header, a line of a cookie jar, or the bare value; %s", auth.CookieName, cookieOnStdin)
	case errors.Is(err, auth.ErrSeveralSessionValues):
		return 0, nil, usageErrorf("standard input holds more than one session cookie: give one")
	case err != nil:
		return 0, nil, err
	}
	if sessionID, secret, err = auth.DecodeValue(value); err != nil {
		return 0, nil, usageErrorf("the session cookie on standard input is not one auth-session makes (it is not shown here): want the base64 of a session id and secret, as login prints it")
	}
	return sessionID, secret, nil
}

// cookieNotFound is the error of a cookie whose session is not there, or
// whose secret is not that session's: the same for both, so that nobody
// learns from it which session ids exist.
func cookieNotFound(id int64) error {
	return hintError{msg: fmt.Sprintf("session %d not found", id),
		hint: "no session has this cookie's id and secret: it was purged, was made on another database, or the cookie was altered"}
}
