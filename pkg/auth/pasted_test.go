package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestValueFromText: every form a leaked cookie is found in gives its
// value; text without one, or with two different ones, is an error that
// does not hold the text.
func TestValueFromText(t *testing.T) {
	value := EncodeValue(784445853689282561, bytes.Repeat([]byte{0xfb}, SecretLen))
	other := EncodeValue(42, bytes.Repeat([]byte{1}, SecretLen))
	jarLine := "localhost\tFALSE\t/\tFALSE\t1999999999\tsession\t" + value
	tests := []struct {
		name    string
		text    string
		wantErr error
	}{
		{"bare value", value, nil},
		{"bare value with a newline", value + "\n", nil},
		{"bare value with CRLF and spaces", "  " + value + " \r\n", nil},
		{"login --only-cookie", SetCookieString(value, true) + "\n", nil},
		{"login --only-cookie without TLS", SetCookieString(value, false), nil},
		{"Cookie header's value", "theme=dark; session=" + value + "; lang=en", nil},
		{"Cookie header", "Cookie: theme=dark; session=" + value, nil},
		{"lower-case header", "cookie: session=" + value, nil},
		{"Set-Cookie header", "Set-Cookie: " + SetCookieString(value, true), nil},
		{"X-Auth-Session header", "X-Auth-Session: " + value, nil},
		{"Bearer header", "Authorization: Bearer " + value, nil},
		{"curl jar line", jarLine, nil},
		{"curl HttpOnly jar line", "#HttpOnly_" + jarLine, nil},
		{"login's jar, a line per host", "# Netscape HTTP Cookie File\n# Written by auth-session login.\n" +
			jarLine + "\n" + strings.Replace(jarLine, "localhost", "127.0.0.1", 1) + "\n", nil},
		{"jar with another cookie", "example.com\tFALSE\t/\tFALSE\t0\ttheme\tdark\n" + jarLine, nil},
		{"empty", "", ErrNoSessionValue},
		{"blank lines", "\n  \n", ErrNoSessionValue},
		{"comments only", "# Netscape HTTP Cookie File\n", ErrNoSessionValue},
		{"other cookies only", "theme=dark; lang=en", ErrNoSessionValue},
		{"another cookie alone", "theme=dark", ErrNoSessionValue},
		{"empty session cookie", "session=; Path=/", ErrNoSessionValue},
		{"Basic authorization", "Authorization: Basic dXNlcjpwdw==", ErrNoSessionValue},
		{"two sessions in a header", "Cookie: session=" + value + "; session=" + other, ErrSeveralSessionValues},
		{"two sessions on two lines", value + "\n" + other, ErrSeveralSessionValues},
		{"two sessions in a jar", jarLine + "\n" + strings.Replace(jarLine, value, other, 1), ErrSeveralSessionValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValueFromText(tt.text)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "session=") || strings.Contains(err.Error(), value[:10]) {
					t.Errorf("error %q holds the text", err)
				}
				return
			}
			if got != value {
				t.Errorf("value %q, want %q", got, value)
			}
			if _, _, err := DecodeValue(got); err != nil {
				t.Errorf("the value found does not decode: %v", err)
			}
		})
	}
}

// FuzzValueFromText: any text gives a value that is in it, or an error.
func FuzzValueFromText(f *testing.F) {
	value := EncodeValue(42, bytes.Repeat([]byte{7}, SecretLen))
	f.Add(value)
	f.Add(SetCookieString(value, true))
	f.Add("Cookie: a=b; session=" + value)
	f.Add("#HttpOnly_localhost\tFALSE\t/\tFALSE\t0\tsession\t" + value)
	f.Add("Set-Cookie: session=\"x\"; Max-Age=0")
	f.Fuzz(func(t *testing.T, text string) {
		got, err := ValueFromText(text)
		if err == nil && (got == "" || !strings.Contains(text, got)) {
			t.Fatalf("ValueFromText(%q) = %q, which the text does not hold", text, got)
		}
	})
}

// TestPresentedSecretMatches: only a found session's own secret matches,
// and an unknown id does the work of a wrong secret.
func TestPresentedSecretMatches(t *testing.T) {
	secret, other := bytes.Repeat([]byte{1}, SecretLen), bytes.Repeat([]byte{2}, SecretLen)
	hashed := HashSecret(secret)
	if !PresentedSecretMatches(secret, hashed, true) {
		t.Error("the session's own secret does not match")
	}
	if PresentedSecretMatches(other, hashed, true) {
		t.Error("a wrong secret matches")
	}
	// Not found: no match, even with the stand-in's own bytes as hash.
	if PresentedSecretMatches(secret, hashed, false) || PresentedSecretMatches(secret, nil, false) {
		t.Error("a session not found matches")
	}
	unknown := testing.AllocsPerRun(100, func() { PresentedSecretMatches(secret, nil, false) })
	wrong := testing.AllocsPerRun(100, func() { PresentedSecretMatches(other, hashed, true) })
	if unknown != wrong {
		t.Errorf("allocations: unknown id %v, wrong secret %v; want the same work", unknown, wrong)
	}
}
