package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 784445853689282561, 1<<63 - 1} {
		value := EncodeValue(id, secret)
		gotID, gotSecret, err := DecodeValue(value)
		if err != nil {
			t.Fatalf("DecodeValue(%q): %v", value, err)
		}
		if gotID != id || !bytes.Equal(gotSecret, secret) {
			t.Errorf("round trip of id %d: got id %d, secret equal %v", id, gotID, bytes.Equal(gotSecret, secret))
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, SecretLen)
	good := EncodeValue(42, secret)
	raw, _ := base64.StdEncoding.DecodeString(good)
	withVersion := func(v byte) string {
		b := append([]byte{}, raw...)
		b[0] = v
		return base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name  string
		value string
	}{
		{"empty", ""},
		{"not base64", strings.Repeat("!", len(good))},
		{"url-safe alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(EncodeValue(42, bytes.Repeat([]byte{0xfb}, SecretLen)))},
		{"too short", good[:len(good)-4]},
		{"trailing bytes", base64.StdEncoding.EncodeToString(append(append([]byte{}, raw...), 0))},
		{"missing padding", strings.TrimRight(good, "=")},
		{"non-canonical padding bits", good[:len(good)-2] + "B="},
		{"wrong version", withVersion(2)},
		{"zero id", EncodeValue(0, secret)},
		{"negative id", EncodeValue(-5, secret)},
		{"embedded newline", good[:10] + "\n" + good[11:]},
		{"leading space", " " + good[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if id, _, err := DecodeValue(tt.value); err != ErrInvalidCookie {
				t.Errorf("DecodeValue(%q) = id %d, err %v; want ErrInvalidCookie", tt.value, id, err)
			}
		})
	}
}

func TestNewSecretIsRandom(t *testing.T) {
	a, _ := NewSecret()
	b, _ := NewSecret()
	if len(a) != SecretLen || bytes.Equal(a, b) {
		t.Fatalf("NewSecret gave %d bytes, equal twice: %v", len(a), bytes.Equal(a, b))
	}
}

func TestSecretMatches(t *testing.T) {
	secret, _ := NewSecret()
	hashed := HashSecret(secret)
	if !SecretMatches(secret, hashed) {
		t.Error("secret does not match its own hash")
	}
	other := append([]byte{}, secret...)
	other[0] ^= 1
	if SecretMatches(other, hashed) {
		t.Error("a different secret matches")
	}
	if bytes.Contains(hashed, secret) {
		t.Error("hash contains the secret")
	}
}

func TestSetCookieString(t *testing.T) {
	if got, want := SetCookieString("abc=", true), "session=abc=; Path=/; HttpOnly; Secure"; got != want {
		t.Errorf("secure: got %q want %q", got, want)
	}
	if got, want := SetCookieString("abc=", false), "session=abc=; Path=/; HttpOnly"; got != want {
		t.Errorf("insecure: got %q want %q", got, want)
	}
}

// FuzzDecodeValue checks that decoding never panics and that whatever it
// accepts re-encodes to exactly the same value (no two spellings of a value).
func FuzzDecodeValue(f *testing.F) {
	f.Add(EncodeValue(784445853689282561, bytes.Repeat([]byte{1}, SecretLen)))
	f.Add("")
	f.Add("AQAAAAAAAAAq")
	f.Fuzz(func(t *testing.T, value string) {
		id, secret, err := DecodeValue(value)
		if err != nil {
			return
		}
		if again := EncodeValue(id, secret); again != value {
			t.Fatalf("accepted %q but it re-encodes as %q", value, again)
		}
	})
}
