package auth

import (
	"crypto/sha256"
	"testing"

	"github.com/auth-session/auth-session/pkg/sql"
)

// TestUnknownIDComparesLikeAWrongSecret: an unknown session id and a known
// one with a wrong secret take the same path: one hash of the secret and
// one constant-time comparison with a stored-size hash, the same
// allocations, and a refusal. Timing is not asserted; the work is.
func TestUnknownIDComparesLikeAWrongSecret(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	known := sql.SessionCheck{ID: 7, HashedSecret: HashSecret(other), RoleValid: true}
	for _, tt := range []struct {
		name  string
		check sql.SessionCheck
		found bool
		want  CheckOutcome
	}{
		{"unknown id", sql.SessionCheck{}, false, CheckUnknown},
		{"wrong secret", known, true, CheckWrongSecret},
	} {
		hashed := storedHash(tt.check.HashedSecret, tt.found)
		if len(hashed) != sha256.Size {
			t.Errorf("%s: compared with %d bytes; want a %d-byte hash, as stored, so the comparison runs in full", tt.name, len(hashed), sha256.Size)
		}
		if got := refusal(secret, tt.check, tt.found); got != tt.want {
			t.Errorf("%s: refusal %v; want %v", tt.name, got, tt.want)
		}
	}
	unknownAllocs := testing.AllocsPerRun(100, func() { refusal(secret, sql.SessionCheck{}, false) })
	wrongAllocs := testing.AllocsPerRun(100, func() { refusal(secret, known, true) })
	if unknownAllocs != wrongAllocs {
		t.Errorf("allocations: unknown id %v, wrong secret %v; want the same work", unknownAllocs, wrongAllocs)
	}
	if got := refusal(other, known, true); got != CheckValid {
		t.Errorf("right secret refused: %v", got)
	}
}
