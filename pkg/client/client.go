package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// SessionHeader is the request header the client presents its session in.
const SessionHeader = "X-Auth-Session"

// maxResponseBytes bounds an answer read into memory; the largest the API
// sends, a full page of the admin listing, is a few megabytes.
const maxResponseBytes = 32 << 20

// Client calls the API of one server. It is safe for concurrent use.
type Client struct {
	baseURL string
	http    *http.Client

	mu      sync.Mutex
	session string
}

// Option configures a Client made by New.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc (for its
// timeout, transport or TLS settings) instead of http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithSession makes the client present the session value, such as
// `auth-session login --only-cookie` prints, without calling Login.
func WithSession(value string) Option {
	return func(c *Client) { c.session = value }
}

// New returns a client of the server at baseURL, such as
// "https://localhost:8080". A path in baseURL prefixes every request path.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), http: http.DefaultClient}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Session returns the session value the client presents, "" when none.
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

func (c *Client) setSession(value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session = value
}

// Error is an answer of the server other than a success.
type Error struct {
	// StatusCode is the HTTP status, such as 404.
	StatusCode int
	// Message is the "error" field of the answer's JSON body, or the body
	// itself, shortened, when it is not JSON.
	Message string
}

// Error returns the status and message, such as "HTTP 404: session not found".
func (e *Error) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
}

// request is one call of the API.
type request struct {
	method string
	path   string
	query  url.Values
	// form, when set, is sent as an URL-encoded body; json, when set, is
	// sent encoded as JSON.
	form url.Values
	json any
	// anonymous requests leave the session out.
	anonymous bool
}

// do sends req. A 2xx answer with a body is decoded into out, when out is
// not nil; any other status is an *Error.
func (c *Client) do(ctx context.Context, req request, out any) error {
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	switch {
	case req.form != nil:
		body = strings.NewReader(req.form.Encode())
	case req.json != nil:
		b, err := json.Marshal(req.json)
		if err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return err
	}
	hr.Header.Set("Accept", "application/json")
	if req.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.json != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if session := c.Session(); session != "" && !req.anonymous {
		hr.Header.Set(SessionHeader, session)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{StatusCode: resp.StatusCode, Message: errorMessage(resp.StatusCode, b)}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode the answer (HTTP %d): %w", resp.StatusCode, err)
		}
	}
	return nil
}

// errorMessage is the message of an error answer: its "error" field, or
// else its text, or else the status text.
func errorMessage(status int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	const maxLen = 200
	text := strings.TrimSpace(string(body))
	if len(text) > maxLen {
		text = text[:maxLen] + "..."
	}
	if text == "" {
		return strings.ToLower(http.StatusText(status))
	}
	return text
}
