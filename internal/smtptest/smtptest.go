package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	// From and To are the envelope, as given to MAIL FROM and RCPT TO.
	From string
	To   []string
	// Data is the message exactly as received, CRLF line endings kept.
	Data []byte
	// TLS tells whether the message came over an encrypted connection.
	TLS bool
	// Username is who authenticated, empty if nobody did.
	Username string
}

// Option changes how Start sets up the server.
type Option func(*config)

type config struct {
	username, password string
	startTLS           bool
	implicitTLS        bool
	stallData          bool
}

// WithAuth offers AUTH PLAIN (over TLS only) and requires it before MAIL:
// only username with password is accepted.
func WithAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithoutSTARTTLS makes the server not offer STARTTLS, like a relay that
// was never given a certificate.
func WithoutSTARTTLS() Option {
	return func(c *config) { c.startTLS = false }
}

// WithImplicitTLS makes the server speak TLS from the first byte, as on
// port 465, instead of offering STARTTLS.
func WithImplicitTLS() Option {
	return func(c *config) { c.implicitTLS, c.startTLS = true, false }
}

// WithStalledData makes the server take DATA and then never answer it, so
// a client's deadline has to fire in the middle of a transaction.
func WithStalledData() Option {
	return func(c *config) { c.stallData = true }
}

// Server is an SMTP server on 127.0.0.1 that records what it accepts.
type Server struct {
	addr    *net.TCPAddr
	roots   *x509.CertPool
	cfg     config
	closing chan struct{}

	mu       sync.Mutex
	messages []Message
	// arrived is closed and replaced whenever a message is recorded.
	arrived chan struct{}
}

// Start runs a server on a random 127.0.0.1 port until the test ends. It
// offers STARTTLS with a certificate for 127.0.0.1 and localhost made for
// this server alone; RootCAs returns the pool that trusts it.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{startTLS: true}
	for _, o := range opts {
		o(&cfg)
	}
	cert, roots, err := selfSigned()
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{
		addr:    l.Addr().(*net.TCPAddr),
		roots:   roots,
		cfg:     cfg,
		closing: make(chan struct{}),
		arrived: make(chan struct{}),
	}

	logger := &testLogger{t: t}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{server: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	// Bounds what a misbehaving client can hold up, not the client's own
	// deadlines, which tests exercise against WithStalledData or Stalled.
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = logger
	if cfg.startTLS {
		srv.TLSConfig = tlsConfig
	}
	if cfg.implicitTLS {
		l = tls.NewListener(l, tlsConfig)
	}

	served := make(chan struct{})
	go func() {
		defer close(served)
		// Serve returns nil once Close is called; anything else is logged.
		if err := srv.Serve(l); err != nil {
			logger.Printf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		close(s.closing)
		logger.stop()
		srv.Close()
		// Close only reaches listeners Serve has registered, which it may
		// not have done yet.
		l.Close()
		<-served
	})
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr.String() }

// Host is the address the server listens on, "127.0.0.1".
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the server's port.
func (s *Server) Port() int { return s.addr.Port }

// RootCAs trusts the server's certificate and nothing else.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Messages returns what the server has accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the accepted messages once there are at least n, failing the
// test if that takes longer than timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("smtptest: %d of %d messages arrived within %v", got, n, timeout)
		}
	}
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one client connection's state, reset by RSET and by a new
// EHLO.
type session struct {
	server   *Server
	conn     *smtp.Conn
	username string
	from     string
	to       []string
}

func (x *session) AuthMechanisms() []string {
	if x.server.cfg.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || x.server.cfg.username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != x.server.cfg.username || password != x.server.cfg.password {
			return smtp.ErrAuthFailed
		}
		x.username = username
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.server.cfg.username != "" && x.username == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	if x.server.cfg.stallData {
		<-x.server.closing
		return errors.New("smtptest: server closing")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.server.record(Message{
		From:     x.from,
		To:       append([]string(nil), x.to...),
		Data:     data,
		TLS:      isTLS,
		Username: x.username,
	})
	return nil
}

func (x *session) Reset() {
	x.from, x.to = "", nil
}

func (x *session) Logout() error { return nil }

// Stalled listens on a random 127.0.0.1 port, accepts connections and
// never writes a byte, until the test ends. It returns the address.
func Stalled(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done // conns is the accept loop's until it returns
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// testLogger sends the server's error log to the test's log until the
// test ends; connection goroutines can outlive Close by a moment, and
// logging after the test has finished panics.
type testLogger struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLogger) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("smtptest: "+format, v...)
	}
}

func (l *testLogger) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log(append([]any{"smtptest:"}, v...)...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}
