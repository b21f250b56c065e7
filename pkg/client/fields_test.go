package client

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/pkg/sql"
)

// TestSelectionFieldsAreTheServers: the selection the three clients send
// has the fields the server's one parser reads (sql.SelectionFields), no
// more and no fewer, so a field added there fails here until every client
// has it.
func TestSelectionFieldsAreTheServers(t *testing.T) {
	var want []string
	for _, f := range sql.SelectionFields {
		want = append(want, f.Name)
	}
	slices.Sort(want)

	var goFields []string
	typ := reflect.TypeOf(Selection{})
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		goFields = append(goFields, name)
	}
	check(t, "pkg/client Selection", goFields, want)
	check(t, "clients/typescript Selection", block(t, "../../clients/typescript/src/client.ts",
		`export interface Selection {`, `}`, `(?m)^\s+(\w+)\?:`), want)
	check(t, "clients/python Selection", block(t, "../../clients/python/auth_session_client/_client.py",
		"class Selection:", "\n\n\n", `(?m)^    (\w+): Optional`), want)
}

// block returns the names field matches between start and end in a file.
func block(t *testing.T, path, start, end, field string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), start)
	if !ok {
		t.Fatalf("%s: no %q", path, start)
	}
	body, _, _ := strings.Cut(rest, end)
	var names []string
	for _, m := range regexp.MustCompile(field).FindAllStringSubmatch(body, -1) {
		names = append(names, m[1])
	}
	return names
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	got = slices.Sorted(slices.Values(got))
	if !slices.Equal(got, want) {
		t.Errorf("%s has fields %v; the server's selection has %v", what, got, want)
	}
}
