package sql

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEventIsAType: an event written by this package and missing from
// EventTypes could not be asked for with events --event or the admin API.
// Every string constant named Event... is one.
func TestEveryEventIsAType(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range pkgs["sql"].Files {
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if !strings.HasPrefix(name.Name, "Event") || i >= len(spec.Values) {
					continue
				}
				lit, ok := spec.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				if v, _ := strconv.Unquote(lit.Value); !slices.Contains(EventTypes, v) {
					t.Errorf("%s (%q) is not in EventTypes", name.Name, v)
				}
			}
			return true
		})
	}
}
