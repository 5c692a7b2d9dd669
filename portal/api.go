package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiError is the admin API's error envelope. The portal shows its
// message, and per-field details beside their fields.
type apiError struct {
	Status  int       `json:"-"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Field   string    `json:"field"`
	Details []problem `json:"details"`
}

// problem is one invalid field as the API names it.
type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Asked   string `json:"asked"`
	Limit   string `json:"limit"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// problemFor is the message the API gave about one field, "" when none.
func (e *apiError) problemFor(field string) string {
	if e == nil {
		return ""
	}
	for _, p := range e.Details {
		if p.Field == field {
			return p.Message
		}
	}
	if e.Field == field {
		return e.Message
	}
	return ""
}

// client calls the admin API in-process with the credential of the
// person using the portal. The portal holds no rights of its own: every
// read and write goes through the API's guard, validation and audit, so
// what a page can do is exactly what that person's API access can.
type client struct {
	api  http.Handler
	from *http.Request
	cred credential
}

// credential is how a call authenticates: a Bearer secret (operator key
// or setup session) or the browser's own partner session cookie, whose
// writes carry the CSRF token the API issued for it.
type credential struct {
	bearer string
	cookie bool
	csrf   string
}

// do sends one request; body, when not nil, is sent as JSON, and a 2xx
// answer's JSON is decoded into out when out is not nil. A non-2xx answer
// is an *apiError.
func (c *client) do(method, path string, body, out any) error {
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	rec, err := c.send(method, path, rd, contentType)
	if err != nil {
		return err
	}
	return decodeAnswer(rec, method, path, out)
}

// upload sends a file's bytes as they are, with the type the browser
// gave them, for the API to judge (a logo).
func (c *client) upload(method, path, contentType string, body []byte, out any) error {
	rec, err := c.send(method, path, bytes.NewReader(body), contentType)
	if err != nil {
		return err
	}
	return decodeAnswer(rec, method, path, out)
}

// decodeAnswer turns a non-2xx answer into an *apiError and decodes a 2xx
// answer's JSON into out when out is not nil.
func decodeAnswer(rec *recorder, method, path string, out any) error {
	if rec.status < 200 || rec.status > 299 {
		ae := &apiError{Status: rec.status}
		var env struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &env) == nil && env.Error != nil {
			ae = env.Error
			ae.Status = rec.status
		}
		return ae
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// stream sends a request whose 2xx answer goes straight to w as the API
// writes it, with only the named headers copied: an audit export can be
// larger than the portal should hold. Any other answer is an *apiError,
// and w is left untouched for the caller to report it.
func (c *client) stream(method, path string, w http.ResponseWriter, headers ...string) error {
	req, err := c.request(method, path, nil, "")
	if err != nil {
		return err
	}
	p := &passthrough{dst: w, keep: headers, header: http.Header{}}
	c.api.ServeHTTP(p, req)
	if p.started {
		return nil
	}
	status := p.status
	if status == 0 {
		status = http.StatusOK
	}
	return decodeAnswer(&recorder{status: status, body: p.refused}, method, path, nil)
}

// passthrough hands a 2xx answer on to the browser and keeps any other.
type passthrough struct {
	dst     http.ResponseWriter
	keep    []string
	header  http.Header
	status  int
	started bool
	refused bytes.Buffer
}

func (p *passthrough) Header() http.Header { return p.header }

func (p *passthrough) WriteHeader(status int) {
	if p.status != 0 {
		return
	}
	p.status = status
	if status < 200 || status > 299 {
		return
	}
	for _, name := range p.keep {
		if v := p.header.Get(name); v != "" {
			p.dst.Header().Set(name, v)
		}
	}
	p.dst.WriteHeader(status)
	p.started = true
}

func (p *passthrough) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.started {
		return p.dst.Write(b)
	}
	return p.refused.Write(b)
}

// Flush lets a streamed answer reach the browser as it is written.
func (p *passthrough) Flush() {
	if f, ok := p.dst.(http.Flusher); ok && p.started {
		f.Flush()
	}
}

func (c *client) send(method, path string, body io.Reader, contentType string) (*recorder, error) {
	req, err := c.request(method, path, body, contentType)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	c.api.ServeHTTP(rec, req)
	return rec, nil
}

func (c *client) request(method, path string, body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(c.from.Context(), method, path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	// The API sees the browser's address and host: rate limits and audit
	// events name the real client, and a cookie session is looked up on
	// the partner's hostname it belongs to.
	req.RemoteAddr = c.from.RemoteAddr
	req.Host = c.from.Host
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "User-Agent"} {
		if v := c.from.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch {
	case c.cred.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.cred.bearer)
	case c.cred.cookie:
		if v := c.from.Header.Values("Cookie"); len(v) > 0 {
			req.Header["Cookie"] = v
		}
		if c.cred.csrf != "" {
			req.Header.Set("X-CSRF-Token", c.cred.csrf)
		}
	}
	return req, nil
}

// recorder keeps an in-process API answer.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// apiPath joins escaped segments under /api/v1, so an id from a form or
// a path can never add a segment of its own.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// isStatus reports whether err is an API answer with that status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}
