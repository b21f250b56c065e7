package auth

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzPresented feeds the three ways of presenting a session, in any
// combination, to the credential extraction: the header wins over Bearer,
// Bearer over cookies, and cookies are the session cookies sent, in order,
// at most MaxSessionCookies of them.
func FuzzPresented(f *testing.F) {
	f.Add("", "", "session=a; session=b")
	f.Add("v", "Bearer w", "session=c")
	f.Add("", "bearer  w ", "")
	f.Add("", "Basic dXNlcjpwdw==", "session=a; theme=dark; session=b; session=c; session=d; session=e")
	f.Add(" ", "Bearer", "session=\"quoted\"; session=")
	f.Fuzz(func(t *testing.T, header, authz, cookie string) {
		r, err := http.NewRequest("GET", "http://localhost/api/v2/whoami", nil)
		if err != nil {
			t.Skip()
		}
		if header != "" {
			r.Header.Set(HeaderName, header)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		values, source := presented(r)
		scheme, _, _ := strings.Cut(strings.TrimSpace(authz), " ")
		switch {
		case header != "":
			if source != SourceHeader || len(values) != 1 || values[0] != strings.TrimSpace(header) {
				t.Fatalf("with X-Auth-Session %q: %q from %q, want the header", header, values, source)
			}
		case strings.EqualFold(scheme, "Bearer"):
			if source != SourceBearer || len(values) != 1 {
				t.Fatalf("with Authorization %q: %q from %q, want the bearer token", authz, values, source)
			}
		default:
			want := r.CookiesNamed(CookieName)
			if len(want) > MaxSessionCookies {
				want = want[:MaxSessionCookies]
			}
			if len(want) == 0 {
				if source != "" || values != nil {
					t.Fatalf("no session presented, got %q from %q", values, source)
				}
				return
			}
			if source != SourceCookie || len(values) != len(want) {
				t.Fatalf("cookies %q: %q from %q, want %d cookie values", cookie, values, source, len(want))
			}
			for i, c := range want {
				if values[i] != c.Value {
					t.Fatalf("cookies %q: value %d is %q, want %q", cookie, i, values[i], c.Value)
				}
			}
		}
	})
}
