// Package auth holds the secrets of auth-session: minting a session secret,
// hashing it for storage, encoding the session id and secret as the opaque
// cookie value, and (in middleware.go) verifying a presented session on an
// HTTP request. It contains no SQL; it asks pkg/sql.
//
// Only SHA-256 hashes of secrets are ever stored. The secret itself exists in
// the cookie value a login returns, and nowhere else.
package auth
