package server_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/server"
)

// TestDatabaseUnavailableIsOneAnswer points the pool where nothing
// listens: the session check (the middleware's 503) and the login (the
// throttle's read) answer the same 503, in the same words.
func TestDatabaseUnavailableIsOneAnswer(t *testing.T) {
	t.Parallel()
	f := newUnreachableFixture(t)
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	const unavailable = "the database is unavailable"
	wantError(t, f.whoami(t, auth.EncodeValue(1, secret)), http.StatusServiceUnavailable, unavailable)
	wantError(t, f.login(t, loginForm("alice", "pw")), http.StatusServiceUnavailable, unavailable)
}

// newUnreachableFixture serves a server whose pool points where nothing
// listens, behind an outage Guard, as serve's is.
func newUnreachableFixture(t *testing.T) *fixture {
	t.Helper()
	poolCfg, err := pgxpool.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	guard := outage.New(log)
	guard.Install(poolCfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, err := server.New(server.Config{Pool: pool, Outage: guard, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{url: serveOn(t, srv, listenLoopback(t))}
}

// TestErrorAnswersAreWrittenInOnePlace reads the server's code: an error
// answer is an apiError written by writeError (errors.go), never a status
// and a message written inline, so that one answer has one wording.
func TestErrorAnswersAreWrittenInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	scanned := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "errors.go" {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if what := inlineErrorAnswer(call); what != "" {
				t.Errorf("%s: %s: write an apiError with writeError (errors.go) instead", fset.Position(call.Pos()), what)
			}
			return true
		})
	}
	if scanned < 10 {
		t.Fatalf("scanned %d files of pkg/server; want its code", scanned)
	}
}

// inlineErrorAnswer says what is wrong with call when it writes an error
// answer by hand, or returns "".
func inlineErrorAnswer(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	name := pkg.Name + "." + sel.Sel.Name
	switch name {
	case "httpjson.Error", "http.Error":
		return name + " called"
	case "httpjson.Write":
		// A JSON answer is a 200, except the health check's 503, whose
		// documented body is a status report ({"status": ...}), no error.
		if len(call.Args) > 1 && !isStatus(call.Args[1], "StatusOK") && !isHealthReport(call) {
			return name + " with an error status"
		}
	}
	if pkg.Name == "auth" && strings.HasPrefix(sel.Sel.Name, "Write") {
		return name + " called"
	}
	return ""
}

func isStatus(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "http" && sel.Sel.Name == name
}

func isHealthReport(call *ast.CallExpr) bool {
	lit, ok := call.Args[len(call.Args)-1].(*ast.CompositeLit)
	if !ok {
		return false
	}
	typ, ok := lit.Type.(*ast.Ident)
	return ok && typ.Name == "healthResponse" && isStatus(call.Args[1], "StatusServiceUnavailable")
}
