package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxLine is RFC 5322's limit on a line, CRLF excluded.
const maxLine = 998

// Parsed is a received message taken apart for assertions.
type Parsed struct {
	// Header is as received, encoded-words left encoded.
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	// Text and HTML are the decoded text/plain and text/html bodies, with
	// line endings turned back into "\n" and trailing ones dropped: SMTP
	// ends every message with a line break, whether the body had one or
	// not.
	Text string
	HTML string
}

// Parse parses m.Data with ParseMessage, failing the test if it is not
// well-formed.
func (m Message) Parse(t testing.TB) *Parsed {
	t.Helper()
	p, err := ParseMessage(m.Data)
	if err != nil {
		t.Fatalf("smtptest: received message: %v\n%s", err, m.Data)
	}
	return p
}

// ParseMessage parses an RFC 5322 message whose body is text/plain,
// text/html or a multipart of those. It is stricter than mail clients:
// bare CR or LF, overlong lines, non-ASCII headers, 8-bit data not
// declared as such, charsets other than UTF-8 and repeated parts are
// errors, so encoding mistakes show in tests instead of being tolerated.
func ParseMessage(raw []byte) (*Parsed, error) {
	if err := checkLines(raw); err != nil {
		return nil, err
	}
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return nil, errors.New("no blank line after the header")
	}
	if !isASCII(head) {
		return nil, errors.New("header is not ASCII")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("Subject: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("Content-Type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return p, p.add(msg.Header, msg.Body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		// NextPart would decode quoted-printable itself and hide the
		// encoding from the checks in add.
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return nil, fmt.Errorf("multipart: %w", err)
		}
		if err := p.add(mail.Header(part.Header), part); err != nil {
			return nil, err
		}
	}
}

// add decodes one text body into p.
func (p *Parsed) add(h mail.Header, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("Content-Type: %w", err)
	}
	var dst *string
	switch mediaType {
	case "text/plain":
		dst = &p.Text
	case "text/html":
		dst = &p.HTML
	default:
		return fmt.Errorf("unexpected part %s", mediaType)
	}
	if *dst != "" {
		return fmt.Errorf("more than one %s part", mediaType)
	}
	if cs := strings.ToLower(params["charset"]); cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("%s: charset %q, want utf-8", mediaType, params["charset"])
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s: %w", mediaType, err)
	}
	cte := strings.ToLower(h.Get("Content-Transfer-Encoding"))
	if cte != "8bit" && !isASCII(raw) {
		return fmt.Errorf("%s: 8-bit data with Content-Transfer-Encoding %q", mediaType, cte)
	}
	var r io.Reader = bytes.NewReader(raw)
	switch cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "", "7bit", "8bit":
	default:
		return fmt.Errorf("%s: unknown Content-Transfer-Encoding %q", mediaType, cte)
	}
	decoded, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s: %w", mediaType, err)
	}
	if !utf8.Valid(decoded) {
		return fmt.Errorf("%s: not valid UTF-8", mediaType)
	}
	*dst = strings.TrimRight(strings.ReplaceAll(string(decoded), "\r\n", "\n"), "\n")
	return nil
}

// checkLines enforces CRLF line endings and RFC 5322's line length limit.
func checkLines(raw []byte) error {
	for n, line := range bytes.SplitAfter(raw, []byte("\n")) {
		content, ok := bytes.CutSuffix(line, []byte("\r\n"))
		if !ok && len(line) > 0 && line[len(line)-1] == '\n' {
			return fmt.Errorf("line %d ends in a bare LF", n+1)
		}
		if bytes.IndexByte(content, '\r') >= 0 {
			return fmt.Errorf("line %d has a bare CR", n+1)
		}
		if len(content) > maxLine {
			return fmt.Errorf("line %d is %d octets long, over %d", n+1, len(content), maxLine)
		}
	}
	return nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
