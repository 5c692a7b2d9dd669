package smtptest

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const raw = "From: <a@example.com>\r\nTo: <b@example.com>\r\nSubject: hi\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"

func tlsConfig(s *Server) *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs(), ServerName: s.Host()}
}

func send(t *testing.T, c *smtp.Client) {
	t.Helper()
	if err := c.SendMail("a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader(raw)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

func TestRecordsOverSTARTTLSWithAuth(t *testing.T) {
	s := Start(t, WithAuth("user", "secret"))
	c, err := smtp.DialStartTLS(s.Addr(), tlsConfig(s))
	if err != nil {
		t.Fatalf("DialStartTLS: %v", err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "user", "secret")); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	send(t, c)

	got := s.Wait(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1", len(got))
	}
	m := got[0]
	if m.From != "a@example.com" || strings.Join(m.To, ",") != "b@example.com,c@example.com" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if string(m.Data) != raw {
		t.Errorf("Data = %q, want %q", m.Data, raw)
	}
	if !m.TLS || m.Username != "user" {
		t.Errorf("TLS = %v, Username = %q; want true, %q", m.TLS, m.Username, "user")
	}
	if p := m.Parse(t); p.Subject != "hi" || p.Text != "hello" {
		t.Errorf("parsed Subject %q, Text %q", p.Subject, p.Text)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := Start(t, WithImplicitTLS())
	c, err := smtp.DialTLS(s.Addr(), tlsConfig(s))
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered inside TLS")
	}
	send(t, c)
	if m := s.Wait(t, 1, 5*time.Second)[0]; !m.TLS || m.Username != "" {
		t.Errorf("TLS = %v, Username = %q; want true, empty", m.TLS, m.Username)
	}
}

func TestAuthRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		user     string
		password string
	}{
		{"wrong password", "user", "wrong"},
		{"wrong user", "other", "secret"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, WithAuth("user", "secret"))
			c, err := smtp.DialStartTLS(s.Addr(), tlsConfig(s))
			if err != nil {
				t.Fatalf("DialStartTLS: %v", err)
			}
			defer c.Close()
			err = c.Auth(sasl.NewPlainClient("", tc.user, tc.password))
			var se *smtp.SMTPError
			if !errors.As(err, &se) || se.Code != 535 {
				t.Fatalf("Auth = %v, want SMTP 535", err)
			}
			if err := c.Mail("a@example.com", nil); err == nil {
				t.Error("MAIL accepted after failed AUTH")
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("%d messages recorded", n)
			}
		})
	}
}

func TestNoAuthOrSTARTTLSOnPlainConnection(t *testing.T) {
	s := Start(t, WithAuth("user", "secret"), WithoutSTARTTLS())
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	for _, ext := range []string{"STARTTLS", "AUTH"} {
		if ok, _ := c.Extension(ext); ok {
			t.Errorf("%s offered on a plain connection", ext)
		}
	}
	if err := c.Mail("a@example.com", nil); err == nil {
		t.Error("MAIL accepted without AUTH")
	}
}

func TestStalledData(t *testing.T) {
	s := Start(t, WithStalledData())
	c, err := smtp.DialStartTLS(s.Addr(), tlsConfig(s))
	if err != nil {
		t.Fatalf("DialStartTLS: %v", err)
	}
	defer c.Close()
	c.SubmissionTimeout = 200 * time.Millisecond
	err = c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader(raw))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("SendMail = %v, want a timeout", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}

func TestStalled(t *testing.T) {
	conn, err := net.Dial("tcp", Stalled(t))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read = %d, %v; want a timeout and nothing", n, err)
	}
}

func TestParseMessage(t *testing.T) {
	const multipart = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Gr=C3=BC=C3=9Fe, a long line that is soft=\r\n broken\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"PHA+aGk8L3A+\r\n" +
		"--b--\r\n"
	good, err := ParseMessage([]byte(multipart))
	if err != nil {
		t.Fatalf("ParseMessage: %v", err)
	}
	if good.Subject != "Grüße" || good.Text != "Grüße, a long line that is soft broken" || good.HTML != "<p>hi</p>" {
		t.Errorf("got Subject %q, Text %q, HTML %q", good.Subject, good.Text, good.HTML)
	}

	for _, tc := range []struct {
		name, raw, want string
	}{
		{"bare LF", "Subject: x\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n", "bare LF"},
		{"bare CR", "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\ry\r\n", "bare CR"},
		{"long line", "Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("x", 999) + "\r\n", "over 998"},
		{"no blank line", "Subject: x\r\n", "no blank line"},
		{"8-bit header", "Subject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n", "header is not ASCII"},
		{"undeclared 8-bit body", "Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n", "8-bit data"},
		{"other charset", "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nx\r\n", "charset"},
		{"other type", "Content-Type: application/pdf\r\n\r\nx\r\n", "unexpected part"},
		{"repeated part", "Content-Type: multipart/alternative; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\none\r\n" +
			"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ntwo\r\n--b--\r\n", "more than one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMessage([]byte(tc.raw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseMessage = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
