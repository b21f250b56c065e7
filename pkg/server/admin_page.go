package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// assets holds the admin page: one HTML document, its script (ES modules:
// admin.mjs and what it imports) and its style sheet. They are plain files, embedded as they are: no build step, and
// nothing is ever loaded from the network.
//
//go:embed assets
var assets embed.FS

// adminPagePath is where the admin page is served.
const adminPagePath = "/admin/sessions"

// adminCSP lets the page load its script, style sheet and API answers from
// the server itself and nothing else: no inline script or style, no frames,
// no plugins, no form posted elsewhere.
const adminCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// assetTypes are the content types of the embedded files, fixed here rather
// than looked up in the system's MIME tables, which vary between machines.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// loadAssets reads every embedded file once, with an ETag from its content
// so that browsers revalidate cheaply: embedded files have no modification
// time to compare.
func loadAssets() map[string]*asset {
	out := map[string]*asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		out[name] = &asset{
			name:        name,
			body:        body,
			contentType: assetTypes[path.Ext(name)],
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; only a broken build gets here.
		panic("server: read embedded admin assets: " + err.Error())
	}
	return out
}

// adminAssets are the embedded files, read when a server first needs them
// rather than when the package loads: every command of the binary, not only
// serve, would pay for it at start-up.
var adminAssets = sync.OnceValue(loadAssets)

// adminPageBody is admin.html with the constants the page shares with the
// server filled in, so that they are written once, here: the CSRF header
// the API requires, the most rows a page may ask for, and the event types
// the Activity view filters by. Filled in when a server first needs it.
var adminPageBody = sync.OnceValue(func() *asset {
	page := adminAssets()["admin.html"]
	tmpl := template.Must(template.New("admin.html").Parse(string(page.body)))
	var b bytes.Buffer
	if err := tmpl.Execute(&b, struct {
		CSRFHeader   string
		MaxPageLimit int
		EventTypes   string
	}{csrfHeader, sql.MaxPageLimit, strings.Join(sql.EventTypes, " ")}); err != nil {
		panic("server: fill in admin.html: " + err.Error())
	}
	return &asset{name: page.name, body: b.Bytes(), contentType: page.contentType}
})

// handleAdminPage answers GET /admin/sessions with the page itself. The page
// holds no data: its script asks the API, with the browser's session cookie,
// and shows the sign-in form when the API answers 401.
func (s *Server) handleAdminPage() http.Handler {
	page := adminPageBody()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		// The page changes with every release and is tiny: never cache it.
		w.Header().Set("Cache-Control", "no-store")
		serveAsset(w, r, page)
	})
}

// handleAdminAsset answers GET /admin/assets/{name} with the page's script
// and style sheet; any other name is 404.
func (s *Server) handleAdminAsset() http.Handler {
	assets := adminAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.PathValue("name")]
		if !ok || a.name == "admin.html" {
			http.NotFound(w, r)
			return
		}
		setPageHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", a.etag)
		serveAsset(w, r, a)
	})
}

// handleAdminRedirect sends /admin and /admin/ to the sessions page, the
// only admin page there is.
func (s *Server) handleAdminRedirect() http.Handler {
	return http.RedirectHandler(adminPagePath, http.StatusFound)
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", adminCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	w.Header().Set("Content-Type", a.contentType)
	// ServeContent answers HEAD, If-None-Match and ranges; a zero time
	// leaves Last-Modified out.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
