package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSubjectLen bounds the subject in bytes. Invitation and reset subjects
// are short; the bound keeps every header line, encoded or not, well under
// the 998-octet limit of RFC 5322.
const maxSubjectLen = 250

// foldAt is the longest header line written where a space allows it:
// RFC 2047 limits lines holding encoded-words to 76 characters, under
// RFC 5322's 78.
const foldAt = 76

// parseAddress parses a single address that can be used both in a header
// and, unchanged, in the SMTP envelope.
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains CR or LF")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	// Non-ASCII addresses need SMTPUTF8 end to end, and a local part that
	// needs quoting is written unquoted by the SMTP client; neither occurs
	// in the addresses partners use, so both are refused rather than sent
	// half right.
	for i := 0; i < len(a.Address); i++ {
		if a.Address[i] >= utf8.RuneSelf {
			return nil, fmt.Errorf("%q is not an ASCII address", a.Address)
		}
	}
	if (&mail.Address{Address: a.Address}).String() != "<"+a.Address+">" {
		return nil, fmt.Errorf("%q needs quoting", a.Address)
	}
	return a, nil
}

// encode checks m and renders it as an RFC 5322 message with CRLF line
// endings, ready for DATA. It returns the recipient's bare address for the
// envelope.
func encode(from *mail.Address, m Message, now time.Time) (rcpt string, raw []byte, err error) {
	to, err := parseAddress(m.To)
	if err != nil {
		return "", nil, fmt.Errorf("mail: %w: To: %w", ErrInvalidMessage, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return "", nil, fmt.Errorf("mail: %w: Subject contains CR or LF", ErrInvalidMessage)
	}
	if len(m.Subject) > maxSubjectLen {
		return "", nil, fmt.Errorf("mail: %w: Subject longer than %d bytes", ErrInvalidMessage, maxSubjectLen)
	}
	if m.Text == "" {
		return "", nil, fmt.Errorf("mail: %w: Text is required", ErrInvalidMessage)
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(fold(name + ": " + value))
		b.WriteString("\r\n")
	}
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+domain(from.Address)+">")
	// RFC 3834: tells vacation responders not to answer a machine.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")

	if m.HTML == "" {
		header("Content-Type", `text/plain; charset="utf-8"`)
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return "", nil, err
		}
		return to.Address, b.Bytes(), nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	// RFC 2046: alternatives go from least to most preferred.
	for _, p := range []struct{ mediaType, content string }{
		{"text/plain", m.Text},
		{"text/html", m.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.mediaType + `; charset="utf-8"`},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return "", nil, fmt.Errorf("mail: encode %s part: %w", p.mediaType, err)
		}
		if err := writeQP(w, p.content); err != nil {
			return "", nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return "", nil, fmt.Errorf("mail: encode multipart body: %w", err)
	}
	b.Write(body.Bytes())
	return to.Address, b.Bytes(), nil
}

// writeQP writes s quoted-printable; in text mode the encoder also turns
// every line ending into CRLF.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return fmt.Errorf("mail: encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("mail: encode body: %w", err)
	}
	return nil
}

// fold breaks a header line at spaces so that lines stay within foldAt
// where a space allows it, if need be right after the field name's colon.
// Unfolding removes only the CRLF, so the value reads back unchanged;
// between encoded-words the space is ignored anyway.
func fold(line string) string {
	var b strings.Builder
	for len(line) > foldAt {
		// Index 0 is the space that starts a continuation line, where a
		// break would only add an empty line.
		cut := strings.LastIndexByte(line[:foldAt+1], ' ')
		if cut <= 0 {
			cut = strings.IndexByte(line[1:], ' ') + 1
			if cut == 0 {
				break
			}
		}
		b.WriteString(line[:cut])
		b.WriteString("\r\n")
		line = line[cut:]
	}
	b.WriteString(line)
	return b.String()
}

func domain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
