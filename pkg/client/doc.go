// Package client is a small typed client for the auth-session HTTP API, as
// served by `auth-session serve`.
//
// A Client holds one session value and presents it in the X-Auth-Session
// header, which needs no CSRF header, unlike the session cookie:
//
//	c := client.New("https://auth.example.com:8080")
//	if _, err := c.Login(ctx, "web_user", password); err != nil {
//		return err
//	}
//	sessions, err := c.Sessions(ctx)
//	...
//	revoked, err := c.LogoutAll(ctx, true) // sign out everywhere else
//
// A session made elsewhere, for example with `auth-session login
// --only-cookie`, is used with WithSession instead of Login.
//
// Every answer other than a success is returned as an *Error, carrying the
// HTTP status and the server's message; find it with errors.As:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
//		...
//	}
//
// Session ids are int64 here and decimal strings on the wire: they exceed
// 2^53, beyond which JSON numbers lose digits in many languages. A session
// is pkg/sql's ListedSession, read with the field declarations the server
// writes it with (sql.SessionFields).
package client
