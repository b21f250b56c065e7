//go:build linux

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// canHideInput: the password prompt can turn the terminal's echo off.
const canHideInput = true

// hideInput turns off the echo of the terminal f, keeping its line editing
// and Ctrl-C, as psql does for a password, and returns what turns it back
// on: restore(true) also discards what was typed and not read, after
// Ctrl-C, so that no part of a password reaches the shell.
//
// golang.org/x/term's ReadPassword turns the echo off too, but only once it
// reads, after the prompt is shown: what is typed in between is echoed.
//
// NOFLSH: by default Ctrl-C makes the terminal discard its pending output
// as well as its input, and the line the command writes when the signal
// arrives may go with it (45 times in 2,000 on a pseudo-terminal; never
// with NOFLSH). The input is discarded by restore(true) instead.
func hideInput(f *os.File) (restore func(discardInput bool), err error) {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	saved := *t
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG | unix.NOFLSH
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	return func(discardInput bool) {
		set := uint(unix.TCSETS)
		if discardInput {
			set = unix.TCSETSF
		}
		_ = unix.IoctlSetTermios(fd, set, &saved)
	}, nil
}
