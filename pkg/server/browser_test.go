package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is a tab of a headless Chromium of the test's own, with what the
// page logged and every URL it requested.
type browser struct {
	ctx     context.Context
	origin  string
	mu      sync.Mutex
	console []string // errors and exceptions
	foreign []string // requests to anything but origin
	output  *syncBuffer
}

// chromiumPath finds the browser: AUTH_SESSION_CHROMIUM, then Debian's
// chromium on the PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("AUTH_SESSION_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("AUTH_SESSION_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium is not on the PATH")
}

// needBrowser returns the path of Chromium, and fails the test when there is
// none: a missing browser must not pass for a tested page. Only
// AUTH_SESSION_SKIP_BROWSER=1 skips the test instead.
func needBrowser(t *testing.T) string {
	t.Helper()
	if os.Getenv("AUTH_SESSION_SKIP_BROWSER") == "1" {
		t.Skip("AUTH_SESSION_SKIP_BROWSER=1: the admin page's browser test is skipped on request")
	}
	path, err := chromiumPath()
	if err != nil {
		t.Fatalf("%v: the admin page test drives Debian's chromium; install it with scripts/install-deps.sh "+
			"(or apt-get install chromium), point AUTH_SESSION_CHROMIUM at a Chromium, "+
			"or set AUTH_SESSION_SKIP_BROWSER=1 to skip this test on purpose", err)
	}
	return path
}

// chromium is the one headless Chromium that the package's browser tests
// share: starting it once rather than once a test saves seconds of CPU on
// each. A test has a tab in a browser context of its own, with cookies and
// storage apart as in a fresh profile (the servers of the tests all listen
// on 127.0.0.1, and cookies do not keep ports apart).
var chromium struct {
	mu     sync.Mutex
	ctx    context.Context // the browser's first tab; nil until started
	stop   context.CancelFunc
	err    error
	output syncBuffer
}

// sharedChromium starts the Chromium at path, once, and returns its first
// tab's context, from which a test opens its own.
func sharedChromium(path string) (context.Context, error) {
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.ctx != nil || chromium.err != nil {
		return chromium.ctx, chromium.err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// The page is the test's own; the sandbox cannot start as root
		// or in most containers.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&chromium.output),
	)
	// Without a user data directory, chromedp makes a temporary one and
	// removes it when the browser stops.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() {
		cancel()
		cancelAlloc()
	}
	if err := chromedp.Do(ctx); err != nil {
		stop()
		chromium.err = fmt.Errorf("start %s: %w\n%s", path, err, chromium.output.String())
		return nil, chromium.err
	}
	chromium.ctx, chromium.stop = ctx, stop
	return ctx, nil
}

// stopChromium stops the shared Chromium, if a test started it.
func stopChromium() {
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.stop != nil {
		chromium.stop()
	}
}

// newBrowser opens a tab of the Chromium at path, in a browser context of
// its own.
func newBrowser(t *testing.T, path, origin string) *browser {
	t.Helper()
	b := &browser{origin: origin, output: &chromium.output}
	browserCtx, err := sharedChromium(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab in %s: %v\n%s", path, err, b.output)
	}
	b.ctx = ctx
	err = chromedp.Listen(ctx, func(ev any) {
		if req, ok := ev.(*network.EventRequestWillBeSent); ok &&
			!strings.HasPrefix(req.Request.URL, origin+"/") && !strings.HasPrefix(req.Request.URL, "data:") {
			b.mu.Lock()
			b.foreign = append(b.foreign, req.Request.URL)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The API's 401 and 403 answers are part of the story; the
			// network log reports each one as an error.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v%s", err, b.state())
	}
}

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(t *testing.T, what, expression string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expression)); err != nil {
		t.Fatalf("waiting for %s: %v%s", what, err, b.state())
	}
}

func (b *browser) text(t *testing.T, css string) string {
	t.Helper()
	var s string
	b.eval(t, fmt.Sprintf(`document.querySelector(%q).textContent`, css), &s)
	return s
}

// eval evaluates expression and decodes its JSON value into out, unless
// out is nil.
func (b *browser) eval(t *testing.T, expression string, out any) {
	t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](expression))
	if err != nil {
		t.Fatalf("evaluate %s: %v%s", expression, err, b.state())
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("evaluate %s: decode %s: %v", expression, raw, err)
		}
	}
}

// acceptDialogs answers every confirm() with OK from now on, and returns a
// func that lists the messages of the dialogs so far.
func (b *browser) acceptDialogs() func() []string {
	var mu sync.Mutex
	var messages []string
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, ev.Message)
			mu.Unlock()
			chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}) //nolint:errcheck // the wait that follows fails instead
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), messages...)
	}
}

// state describes the page, for a failure message.
func (b *browser) state() string {
	var text string
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err == nil {
		text = s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("\npage text:\n%s\nconsole errors: %q", text, b.console)
}

// checkClean fails the test if the page threw, logged an error other than
// an HTTP status (such as a CSP violation), or reached beyond the server.
func (b *browser) checkClean(t *testing.T) {
	t.Helper()
	// Console messages arrive on their own goroutine.
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.console) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(b.console, "\n"))
	}
	if len(b.foreign) > 0 {
		t.Errorf("the page requested URLs outside %s: %q", b.origin, b.foreign)
	}
}
