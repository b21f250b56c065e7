package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// fixtureSession is a row inserted with fixed values, so that list and
// logout print the same output on every run.
type fixtureSession struct {
	id       int64
	username string
	created  time.Time
	expires  time.Time
	revoked  *time.Time
	lastUsed time.Time
	// secret is hashed into hashed_secret; outputs must show neither.
	secret string
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func utcPtr(s string) *time.Time {
	t := utc(s)
	return &t
}

// farFuture keeps a fixture session active whenever the tests run.
const farFuture = "2122-08-02 17:47:36.341997"

// seedSessions are the sessions of the seed's list example, plus the kinds
// the example lacks: an expired session and a recent active one. By testNow
// (2022-09-15): root's first session is active and stale (unused for six
// weeks), root's second expired without being revoked, web_user's first two
// were revoked, its third is active and fresh and its fourth expired.
var seedSessions = []fixtureSession{
	{784428093743988737, "root", utc("2022-08-02 16:47:36.342338"), utc(farFuture), nil, utc("2022-08-02 16:47:36.342338"), "secret-root-1"},
	{784428586862215169, "root", utc("2022-08-02 16:50:06.830294"), utc("2022-08-02 17:50:06.829974"), nil, utc("2022-08-02 16:50:06.830294"), "secret-root-2"},
	{784447132063662081, "web_user", utc("2022-08-02 18:24:26.37664"), utc(farFuture), utcPtr("2022-08-02 18:24:50.819614"), utc("2022-08-02 18:24:26.37664"), "secret-web-1"},
	{784449147579924481, "web_user", utc("2022-08-02 18:34:41.463345"), utc(farFuture), utcPtr("2022-08-02 18:47:20.105254"), utc("2022-08-02 18:34:41.463345"), "secret-web-2"},
	{790000000000000001, "web_user", utc("2022-09-14 12:00:00"), utc(farFuture), nil, utc("2022-09-14 12:30:00.5"), "secret-web-3"},
	{790000000000000002, "web_user", utc("2022-09-14 13:00:00"), utc("2022-09-14 14:00:00"), nil, utc("2022-09-14 13:00:00"), "secret-web-4"},
}

// mustInsertSessions writes sessions into system.web_sessions as they are.
func mustInsertSessions(t testing.TB, dbURL string, sessions []fixtureSession) {
	t.Helper()
	conn := mustConnect(t, dbURL)
	rows := make([][]any, len(sessions))
	for i, s := range sessions {
		rows[i] = []any{s.id, hashOf(s.secret), s.username, int64(10), s.created, s.expires, s.revoked, s.lastUsed}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"system", "web_sessions"},
		[]string{"id", "hashed_secret", "username", "user_id", "created_at", "expires_at", "revoked_at", "last_used_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("insert fixture sessions: %v", err)
	}
}

func hashOf(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// encodings returns the ways a byte string could leak into output.
func encodings(b []byte) []string {
	return []string{
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
}

// checkNoSecrets fails the test when out holds any encoding of the fixture
// sessions' secrets or their hashes.
func checkNoSecrets(t testing.TB, out string, sessions []fixtureSession) {
	t.Helper()
	for _, s := range sessions {
		for _, b := range [][]byte{[]byte(s.secret), hashOf(s.secret)} {
			for _, enc := range append(encodings(b), string(b)) {
				if strings.Contains(out, enc) {
					t.Errorf("output contains a secret or its hash (%q) of session %d:\n%s", enc, s.id, out)
				}
			}
		}
	}
}
