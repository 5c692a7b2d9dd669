package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Values of SMTPConfig.TLS.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and refuses
	// servers that do not offer it.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS).
	TLSImplicit = "tls"
	// TLSNone is for a relay on the same machine, reached over loopback.
	TLSNone = "none"
)

var defaultPorts = map[string]int{
	TLSStartTLS: 587,
	TLSImplicit: 465,
	TLSNone:     25,
}

const defaultTimeout = 10 * time.Second

// heloName is what the client calls itself in EHLO. The gateway has no
// public name of its own to offer, and submission servers identify clients
// by their credentials, not by EHLO.
const heloName = "localhost"

// SMTPConfig configures SMTP; zero values take the defaults.
type SMTPConfig struct {
	// Host is the server's name or IP address, without a port. With TLS it
	// is also the name the server's certificate must carry.
	Host string
	// Port defaults to 587 for "starttls", 465 for "tls" and 25 for "none".
	Port int
	// Username and Password, when set, authenticate with AUTH PLAIN. They
	// are only ever sent over TLS.
	Username string
	Password string
	// From is the sender, e.g. "Partnergate <no-reply@example.com>". Its
	// domain also qualifies the Message-ID.
	From string
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// Timeout bounds a whole Send, from connecting to QUIT (default 10s).
	Timeout time.Duration
	// RootCAs verify the server's certificate; nil means the system roots.
	RootCAs *x509.CertPool
}

// Validate reports every bad field at once, so one round of fixing a
// config is enough.
func (c SMTPConfig) Validate() error {
	_, err := c.check()
	return err
}

// check validates c and returns the parsed From address.
func (c SMTPConfig) check() (*mail.Address, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("SMTPConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Host == "" {
		bad("Host", "required")
	} else if net.ParseIP(c.Host) == nil && !isHostname(c.Host) {
		bad("Host", "%q is neither a host name nor an IP address (give the port in Port)", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("Port", "%d is not a TCP port", c.Port)
	}
	if c.Username == "" && c.Password != "" {
		bad("Username", "required when Password is set")
	}
	if c.Username != "" && c.Password == "" {
		bad("Password", "required when Username is set")
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Host != "" && !isLoopback(c.Host) {
			bad("TLS", "%q is only allowed for a loopback Host, not %q", TLSNone, c.Host)
		}
		if c.Username != "" || c.Password != "" {
			bad("TLS", "%q would send the credentials in clear text", TLSNone)
		}
	default:
		bad("TLS", "%q is not one of %q, %q, %q", c.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	var from *mail.Address
	if c.From == "" {
		bad("From", "required")
	} else {
		var err error
		if from, err = parseAddress(c.From); err != nil {
			bad("From", "%v", err)
		}
	}
	if c.Timeout < 0 {
		bad("Timeout", "%v is negative", c.Timeout)
	}
	return from, errors.Join(errs...)
}

func isHostname(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.', r == '_':
		default:
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMTP sends each message over its own connection to a submission server:
// invitations and resets are too rare to justify keeping one open. It is
// safe for concurrent use.
type SMTP struct {
	addr    string
	mode    string
	timeout time.Duration
	tls     *tls.Config
	from    *mail.Address
	// creds is a pointer so that printing an SMTP shows an address, not
	// the password.
	creds *credentials
}

type credentials struct {
	username, password string
}

var _ Sender = (*SMTP)(nil)

// NewSMTP validates cfg and fills in its defaults.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	from, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &SMTP{
		mode:    cfg.TLS,
		timeout: cfg.Timeout,
		tls:     &tls.Config{ServerName: cfg.Host, RootCAs: cfg.RootCAs},
		from:    from,
	}
	if s.mode == "" {
		s.mode = TLSStartTLS
	}
	port := cfg.Port
	if port == 0 {
		port = defaultPorts[s.mode]
	}
	s.addr = net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if cfg.Username != "" {
		s.creds = &credentials{cfg.Username, cfg.Password}
	}
	return s, nil
}

// Send checks and encodes m, then delivers it. A message refused before
// any connection is made fails with ErrInvalidMessage; rejected
// credentials fail with ErrAuthFailed; an expired or cancelled ctx (or the
// configured Timeout) fails with the context's error.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	rcpt, raw, err := encode(s.from, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.deliver(ctx, rcpt, raw); err != nil {
		// A connection closed because ctx ended fails with an error that
		// hides why; the context's error says it.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("mail: send via %s: %w", s.addr, ctxErr)
		}
		return fmt.Errorf("mail: send via %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTP) deliver(ctx context.Context, rcpt string, raw []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// go-smtp sets and clears its own deadline around every command, which
	// would undo one set here, so ctx ends the exchange by closing the
	// connection instead.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := s.hello(ctx, conn)
	if err != nil {
		return err
	}
	// Validation keeps credentials out of TLSNone, so by now the
	// connection is TLS with a verified certificate.
	if s.creds != nil {
		if !c.SupportsAuth(sasl.Plain) {
			return errors.New("server does not offer AUTH PLAIN")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.creds.username, s.creds.password)); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code == 535 {
				return fmt.Errorf("%w: %w", ErrAuthFailed, err)
			}
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from.Address, nil); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The server has taken the message; a failed QUIT must not make the
	// caller send it again.
	_ = c.Quit()
	return nil
}

// hello sets up TLS as configured and greets the server.
func (s *SMTP) hello(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	var c *smtp.Client
	switch s.mode {
	case TLSImplicit:
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = smtp.NewClient(tc)
	case TLSNone:
		// A host name that looked local may resolve elsewhere; the message
		// must not leave the machine unencrypted either way.
		if a, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
			return nil, fmt.Errorf("refusing plain SMTP to non-loopback %s", conn.RemoteAddr())
		}
		c = smtp.NewClient(conn)
	default:
		var err error
		if c, err = smtp.NewClientStartTLS(conn, s.tls); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	// Later commands greet implicitly and hide a failed greeting (such as
	// a certificate that does not verify) behind their own errors.
	if err := c.Hello(heloName); err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	return c, nil
}
