package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// CookieName is the name of the session cookie, as in CockroachDB.
const CookieName = "session"

// SecretLen is the number of random bytes in a session secret.
const SecretLen = 32

// cookieVersion leads every encoded value, so the format can change later
// without old values being misread.
const cookieVersion = 1

// encodedLen is the byte length of a decoded cookie value: version, id, secret.
const encodedLen = 1 + 8 + SecretLen

// ErrInvalidCookie is returned for any value that is not a well-formed
// session cookie value. It deliberately says nothing about which check failed.
var ErrInvalidCookie = errors.New("invalid session cookie value")

// strictBase64 rejects non-canonical padding bits and embedded newlines,
// which the default decoder accepts.
var strictBase64 = base64.StdEncoding.Strict()

// NewSecret returns SecretLen bytes from crypto/rand.
func NewSecret() ([]byte, error) {
	secret := make([]byte, SecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate session secret: %w", err)
	}
	return secret, nil
}

// HashSecret returns the SHA-256 of secret: the only form stored.
func HashSecret(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return sum[:]
}

// SecretMatches reports whether secret hashes to hashed, in constant time.
func SecretMatches(secret, hashed []byte) bool {
	return subtle.ConstantTimeCompare(HashSecret(secret), hashed) == 1
}

// EncodeValue returns the opaque cookie value for a session: standard
// base64 of a version byte, the big-endian id and the secret.
func EncodeValue(sessionID int64, secret []byte) string {
	buf := make([]byte, 0, encodedLen)
	buf = append(buf, cookieVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(sessionID))
	buf = append(buf, secret...)
	return base64.StdEncoding.EncodeToString(buf)
}

// DecodeValue parses a cookie value made by EncodeValue. Anything else,
// including a wrong length, bad base64, a wrong version or trailing bytes,
// returns ErrInvalidCookie.
func DecodeValue(value string) (sessionID int64, secret []byte, err error) {
	if len(value) != base64.StdEncoding.EncodedLen(encodedLen) {
		return 0, nil, ErrInvalidCookie
	}
	raw, err := strictBase64.DecodeString(value)
	if err != nil || len(raw) != encodedLen || raw[0] != cookieVersion {
		return 0, nil, ErrInvalidCookie
	}
	sessionID = int64(binary.BigEndian.Uint64(raw[1:9]))
	if sessionID <= 0 {
		return 0, nil, ErrInvalidCookie
	}
	return sessionID, raw[9:], nil
}

// SetCookieString renders the cookie as a login prints it:
// "session=<value>; Path=/; HttpOnly; Secure", without "; Secure" when
// secure is false (an HTTP interface without TLS). The line works as-is in
// curl --cookie "..." and in a Cookie: header, where the attributes are
// ignored by the server.
func SetCookieString(value string, secure bool) string {
	s := CookieName + "=" + value + "; Path=/; HttpOnly"
	if secure {
		s += "; Secure"
	}
	return s
}
