package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/smtptest"
)

const (
	testUser     = "gateway"
	testPassword = "s3cret-pa55word"
	arrival      = 5 * time.Second
)

// config points at s with STARTTLS, trusting its certificate and
// authenticating as testUser.
func config(s *smtptest.Server) SMTPConfig {
	return SMTPConfig{
		Host:     s.Host(),
		Port:     s.Port(),
		Username: testUser,
		Password: testPassword,
		From:     "Partnergate Ünïcode <no-reply@gate.example.com>",
		RootCAs:  s.RootCAs(),
	}
}

func newSender(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

var invitation = Message{
	To:      "Zoë Müller <zoe@partner.example>",
	Subject: "Einladung: Grüße von Partnergate ✓",
	// The lone dot would end DATA early if it were not escaped.
	Text: "Hallo Zoë,\n\nfolge diesem Link: https://gate.example.com/invite?t=abc=def\n.\nPartnergate\n",
	HTML: "<p>Hallo Zoë,</p>\n<p><a href=\"https://gate.example.com/invite?t=abc=def\">Einladung annehmen</a></p>",
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []smtptest.Option
		cfg      func(*SMTPConfig)
		msg      Message
		tls      bool
		username string
	}{
		{
			name:     "starttls with auth, text and html",
			opts:     []smtptest.Option{smtptest.WithAuth(testUser, testPassword)},
			msg:      invitation,
			tls:      true,
			username: testUser,
		},
		{
			name: "starttls without auth, text only",
			cfg:  func(c *SMTPConfig) { c.Username, c.Password = "", "" },
			msg:  Message{To: "zoe@partner.example", Subject: "Reset your password", Text: "Reset: https://gate.example.com/reset"},
			tls:  true,
		},
		{
			name:     "implicit tls",
			opts:     []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth(testUser, testPassword)},
			cfg:      func(c *SMTPConfig) { c.TLS = TLSImplicit },
			msg:      invitation,
			tls:      true,
			username: testUser,
		},
		{
			name: "none on loopback",
			opts: []smtptest.Option{smtptest.WithoutSTARTTLS()},
			cfg:  func(c *SMTPConfig) { c.TLS, c.Username, c.Password = TLSNone, "", "" },
			msg:  invitation,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts...)
			cfg := config(srv)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			before := time.Now()
			if err := newSender(t, cfg).Send(context.Background(), tc.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Wait(t, 1, arrival)
			if len(got) != 1 {
				t.Fatalf("%d messages arrived, want 1", len(got))
			}
			m := got[0]
			if m.From != "no-reply@gate.example.com" || len(m.To) != 1 || m.To[0] != "zoe@partner.example" {
				t.Errorf("envelope %q -> %q", m.From, m.To)
			}
			if m.TLS != tc.tls || m.Username != tc.username {
				t.Errorf("TLS %v as %q, want %v as %q", m.TLS, m.Username, tc.tls, tc.username)
			}
			checkMessage(t, m.Parse(t), tc.msg, before)
		})
	}
}

var messageID = regexp.MustCompile(`^<[A-Z2-7]{26}@gate\.example\.com>$`)

// checkMessage asserts what a recipient of want would see in p.
func checkMessage(t *testing.T, p *smtptest.Parsed, want Message, sent time.Time) {
	t.Helper()
	from, err := p.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Partnergate Ünïcode" || from[0].Address != "no-reply@gate.example.com" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := p.Header.AddressList("To")
	wantTo, _ := parseAddress(want.To)
	if err != nil || len(to) != 1 || *to[0] != *wantTo {
		t.Errorf("To = %v (%v), want %v", to, err, wantTo)
	}
	if p.Subject != want.Subject {
		t.Errorf("Subject = %q, want %q", p.Subject, want.Subject)
	}
	date, err := p.Header.Date()
	if err != nil || date.Before(sent.Add(-time.Second)) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %v (%v), want about %v", date, err, sent)
	}
	if id := p.Header.Get("Message-ID"); !messageID.MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	if v := p.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	if v := p.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}
	wantType := "text/plain"
	if want.HTML != "" {
		wantType = "multipart/alternative"
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType+";") {
		t.Errorf("Content-Type = %q, want %s", ct, wantType)
	}
	// Parsed bodies lose their trailing line breaks; so does the
	// comparison.
	if p.Text != strings.TrimRight(want.Text, "\n") {
		t.Errorf("Text = %q, want %q", p.Text, want.Text)
	}
	if p.HTML != strings.TrimRight(want.HTML, "\n") {
		t.Errorf("HTML = %q, want %q", p.HTML, want.HTML)
	}
}

func TestSendWrongCredentials(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth(testUser, "another password"))
	err := newSender(t, config(srv)).Send(context.Background(), invitation)
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("Send = %v, want ErrAuthFailed", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("error reveals the password: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
}

func TestSendRefusesInsecureServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []smtptest.Option
		cfg  func(*SMTPConfig)
		want string
	}{
		{
			name: "no STARTTLS offered",
			opts: []smtptest.Option{smtptest.WithoutSTARTTLS()},
			want: "STARTTLS",
		},
		{
			name: "no STARTTLS offered, no credentials",
			opts: []smtptest.Option{smtptest.WithoutSTARTTLS()},
			cfg:  func(c *SMTPConfig) { c.Username, c.Password = "", "" },
			want: "STARTTLS",
		},
		{
			name: "untrusted certificate",
			cfg:  func(c *SMTPConfig) { c.RootCAs = nil },
			want: "certificate",
		},
		{
			name: "untrusted certificate, implicit tls",
			opts: []smtptest.Option{smtptest.WithImplicitTLS()},
			cfg:  func(c *SMTPConfig) { c.TLS, c.RootCAs = TLSImplicit, nil },
			want: "certificate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, append(tc.opts, smtptest.WithAuth(testUser, testPassword))...)
			cfg := config(srv)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			err := newSender(t, cfg).Send(context.Background(), invitation)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error mentioning %q", err, tc.want)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages arrived", n)
			}
		})
	}
}

func TestSendRefusesInvalidMessage(t *testing.T) {
	valid := Message{To: "zoe@partner.example", Subject: "Welcome", Text: "Hello"}
	for _, tc := range []struct {
		name   string
		mutate func(*Message)
	}{
		{"CRLF in Subject", func(m *Message) { m.Subject = "Welcome\r\nBcc: victim@evil.example" }},
		{"LF in Subject", func(m *Message) { m.Subject = "Welcome\nBcc: victim@evil.example" }},
		{"CR in Subject", func(m *Message) { m.Subject = "Welcome\rBcc: victim@evil.example" }},
		{"CRLF in To", func(m *Message) { m.To = "zoe@partner.example\r\nBcc: victim@evil.example" }},
		{"LF in To display name", func(m *Message) { m.To = "\"Zoë\nBcc: victim@evil.example\" <zoe@partner.example>" }},
		{"two recipients", func(m *Message) { m.To = "zoe@partner.example, victim@evil.example" }},
		{"empty To", func(m *Message) { m.To = "" }},
		{"no domain", func(m *Message) { m.To = "zoe" }},
		{"non-ASCII address", func(m *Message) { m.To = "zoë@partner.example" }},
		{"quoted local part", func(m *Message) { m.To = `"zoe mueller"@partner.example` }},
		{"no Text", func(m *Message) { m.Text, m.HTML = "", "<p>Hello</p>" }},
		{"Subject too long", func(m *Message) { m.Subject = strings.Repeat("x", maxSubjectLen+1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t)
			m := valid
			tc.mutate(&m)
			cfg := config(srv)
			cfg.Username, cfg.Password = "", ""
			err := newSender(t, cfg).Send(context.Background(), m)
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("Send = %v, want ErrInvalidMessage", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages arrived", n)
			}
		})
	}
}

func TestSendHonoursContext(t *testing.T) {
	const limit = 300 * time.Millisecond
	stalledData := func(t *testing.T) (SMTPConfig, func() int) {
		srv := smtptest.Start(t, smtptest.WithStalledData(), smtptest.WithAuth(testUser, testPassword))
		return config(srv), func() int { return len(srv.Messages()) }
	}
	silent := func(t *testing.T) (SMTPConfig, func() int) {
		host, port, err := net.SplitHostPort(smtptest.Stalled(t))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		return SMTPConfig{Host: host, Port: p, From: "no-reply@gate.example.com"}, func() int { return 0 }
	}
	for _, tc := range []struct {
		name   string
		server func(*testing.T) (SMTPConfig, func() int)
		// ctx derives the Send context from a background one.
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		timeout time.Duration
		want    error
	}{
		{
			name:   "deadline, silent server",
			server: silent,
			ctx:    func(c context.Context) (context.Context, context.CancelFunc) { return context.WithTimeout(c, limit) },
			want:   context.DeadlineExceeded,
		},
		{
			name:   "cancel, silent server",
			server: silent,
			ctx: func(c context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(c)
				time.AfterFunc(limit, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
		{
			name:   "deadline, server stalls after DATA",
			server: stalledData,
			ctx:    func(c context.Context) (context.Context, context.CancelFunc) { return context.WithTimeout(c, limit) },
			want:   context.DeadlineExceeded,
		},
		{
			name:    "configured Timeout, silent server",
			server:  silent,
			ctx:     context.WithCancel,
			timeout: limit,
			want:    context.DeadlineExceeded,
		},
		{
			name:   "already cancelled",
			server: silent,
			ctx: func(c context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(c)
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, delivered := tc.server(t)
			cfg.Timeout = tc.timeout
			if cfg.Timeout == 0 {
				cfg.Timeout = time.Minute
			}
			ctx, cancel := tc.ctx(context.Background())
			defer cancel()
			start := time.Now()
			err := newSender(t, cfg).Send(ctx, invitation)
			elapsed := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Send = %v, want %v", err, tc.want)
			}
			if elapsed > limit+2*time.Second {
				t.Errorf("Send returned after %v, limit %v", elapsed, limit)
			}
			if n := delivered(); n != 0 {
				t.Errorf("%d messages arrived", n)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.example.com", From: "no-reply@gate.example.com"}
	for _, tc := range []struct {
		name   string
		mutate func(*SMTPConfig)
		// fields are the SMTPConfig fields the error must name; none means
		// the config is valid.
		fields []string
	}{
		{"defaults", func(*SMTPConfig) {}, nil},
		{"full", func(c *SMTPConfig) {
			c.Port, c.Username, c.Password, c.TLS, c.Timeout = 465, testUser, testPassword, TLSImplicit, time.Second
		}, nil},
		{"none on 127.0.0.1", func(c *SMTPConfig) { c.Host, c.TLS = "127.0.0.1", TLSNone }, nil},
		{"none on ::1", func(c *SMTPConfig) { c.Host, c.TLS = "::1", TLSNone }, nil},
		{"none on localhost", func(c *SMTPConfig) { c.Host, c.TLS = "localhost", TLSNone }, nil},
		{"From with display name", func(c *SMTPConfig) { c.From = `"Partner Gate" <no-reply@gate.example.com>` }, nil},
		{"none on remote host", func(c *SMTPConfig) { c.TLS = TLSNone }, []string{"TLS"}},
		{"none on private address", func(c *SMTPConfig) { c.Host, c.TLS = "10.0.0.1", TLSNone }, []string{"TLS"}},
		{"none with credentials", func(c *SMTPConfig) {
			c.Host, c.TLS, c.Username, c.Password = "127.0.0.1", TLSNone, testUser, testPassword
		}, []string{"TLS"}},
		{"unknown TLS", func(c *SMTPConfig) { c.TLS = "ssl" }, []string{"TLS"}},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.example.com:587" }, []string{"Host"}},
		{"username without password", func(c *SMTPConfig) { c.Username = testUser }, []string{"Password"}},
		{"password without username", func(c *SMTPConfig) { c.Password = testPassword }, []string{"Username"}},
		{"From with CRLF", func(c *SMTPConfig) { c.From = "no-reply@gate.example.com\r\nBcc: victim@evil.example" }, []string{"From"}},
		{"From list", func(c *SMTPConfig) { c.From = "a@gate.example.com, b@gate.example.com" }, []string{"From"}},
		{"everything wrong", func(c *SMTPConfig) {
			*c = SMTPConfig{Port: 70000, Password: testPassword, TLS: "ssl", Timeout: -time.Second}
		}, []string{"Host", "Port", "Username", "TLS", "From", "Timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			err := cfg.Validate()
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors for %v", tc.fields)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), "SMTPConfig."+f+":") {
					t.Errorf("Validate = %q, does not name %s", err, f)
				}
			}
			if got := strings.Count(err.Error(), "SMTPConfig."); got != len(tc.fields) {
				t.Errorf("Validate named %d problems, want %d: %v", got, len(tc.fields), err)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("Validate reveals the password: %v", err)
			}
			if _, nerr := NewSMTP(cfg); nerr == nil {
				t.Error("NewSMTP accepted a config Validate refused")
			}
		})
	}
}

func TestNewSMTPDefaults(t *testing.T) {
	for _, tc := range []struct {
		tls, host string
		port      int
		want      string
	}{
		{"", "smtp.example.com", 0, "smtp.example.com:587"},
		{TLSStartTLS, "smtp.example.com", 2525, "smtp.example.com:2525"},
		{TLSImplicit, "smtp.example.com", 0, "smtp.example.com:465"},
		{TLSNone, "::1", 0, "[::1]:25"},
	} {
		s := newSender(t, SMTPConfig{Host: tc.host, Port: tc.port, TLS: tc.tls, From: "a@gate.example.com"})
		if s.addr != tc.want || s.timeout != defaultTimeout {
			t.Errorf("TLS %q port %d: addr %q timeout %v, want %q %v", tc.tls, tc.port, s.addr, s.timeout, tc.want, defaultTimeout)
		}
	}
}

func TestSenderHidesPassword(t *testing.T) {
	s := newSender(t, SMTPConfig{Host: "smtp.example.com", Username: testUser, Password: testPassword, From: "a@gate.example.com"})
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, testPassword) {
			t.Errorf("%s prints the password: %s", verb, out)
		}
	}
}

func TestSendConcurrent(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth(testUser, testPassword))
	s := newSender(t, config(srv))
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Send(context.Background(), Message{To: fmt.Sprintf("user%d@partner.example", i), Subject: "Welcome", Text: "Hello"})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range srv.Wait(t, n, arrival) {
		seen[m.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients reached, want %d", len(seen), n)
	}
}
