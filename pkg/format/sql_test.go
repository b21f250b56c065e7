package format

import "testing"

// TestSQLStringLiterals: a literal reads the same with
// standard_conforming_strings on or off (e2e's
// TestSQLFormatIsSafeWithoutStandardConformingStrings runs them in psql).
func TestSQLStringLiterals(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `''`},
		{`web_user`, `'web_user'`},
		{`it's`, `'it''s'`},
		{`x\'); CREATE TABLE pwned(); --`, `E'x\\''); CREATE TABLE pwned(); --'`},
		{`\`, `E'\\'`},
		{`a\\b`, `E'a\\\\b'`},
		{"tab\there", "'tab\there'"},
	}
	for _, tt := range tests {
		if got := string(appendSQLString(nil, tt.in)); got != tt.want {
			t.Errorf("appendSQLString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
