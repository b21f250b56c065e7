//go:build !linux

package cli

import (
	"errors"
	"os"
)

// canHideInput: the terminal's echo is not turned off on this system, so
// the password is never asked for (see termios_linux.go).
const canHideInput = false

func hideInput(*os.File) (func(bool), error) { return nil, errors.ErrUnsupported }
