package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
)

// bench runs the two programs against the benchmark database.
type bench struct {
	db   *benchDB
	bin  string
	psql string
	out  io.Writer
}

// checkOutputs runs each program once, untimed, and checks that it does
// what the benchmark says it does.
func (b *bench) checkOutputs(ctx context.Context) error {
	var out bytes.Buffer
	if _, err := cmdbench.Exec(ctx, &out, b.bin, b.loginArgs()...); err != nil {
		return err
	}
	if !regexp.MustCompile(`^session=[A-Za-z0-9+/=]+; Path=/; HttpOnly; Secure\n$`).MatchString(out.String()) {
		return fmt.Errorf("login --only-cookie printed %q, want one cookie line", out.String())
	}
	out.Reset()
	if _, err := cmdbench.Exec(ctx, &out, b.psql, b.psqlLoginArgs()...); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64); err != nil {
		return fmt.Errorf("psql INSERT printed %q, want the new id", out.String())
	}
	return nil
}
