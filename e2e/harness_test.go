package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	operatorKey = "e2e-operator-key-0123456789"
	secretKey   = "e2e-secret-key-0123456789abcdef0123456789"
	baseDomain  = "apps.localhost"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "partnergate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "partnergate")
	build := exec.Command("go", "build", "-o", binary, "../cmd/partnergate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build partnergate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upstream is the protected app: it records what reached it.
type upstream struct {
	addr string

	mu   sync.Mutex
	seen []*http.Request
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.addr = serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(context.Background()))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.RequestURI(), "headers": r.Header})
	})
	return u
}

// serveHTTP serves h on a new loopback port until the test ends and
// returns the address.
func serveHTTP(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// requests returns how many requests reached the app so far.
func (u *upstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("no request reached the app")
	}
	return u.seen[len(u.seen)-1]
}

// node is one running partnergate process.
type node struct {
	t         *testing.T
	port      string
	dir       string
	caddyfile string
	config    nodeConfig
	cmd       *exec.Cmd
	logs      *bytes.Buffer
}

type nodeConfig struct {
	store    string // "file <dir>" or "redis <url>"
	upstream string
	// extra lines for the global partnergate block
	options []string
	// adminAddr enables Caddy's admin endpoint there (for reloads).
	adminAddr string
}

// startNode runs the acceptance Caddyfile with its ports and store swapped.
func startNode(t *testing.T, cfg nodeConfig) *node {
	t.Helper()
	n := newNode(t, cfg)
	n.writeCaddyfile(t, cfg)
	n.launch(t)
	return n
}

// newNode picks a port and a private directory for a node not yet started.
func newNode(t *testing.T, cfg nodeConfig) *node {
	t.Helper()
	dir := t.TempDir()
	return &node{t: t, port: freePort(t), logs: new(bytes.Buffer), dir: dir, caddyfile: filepath.Join(dir, "Caddyfile"), config: cfg}
}

// gatewayCommand runs the binary on a Caddyfile with the test keys and
// dir as its working, data and config directory, plus env.
func gatewayCommand(ctx context.Context, dir, caddyfile string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PARTNERGATE_OPERATOR_KEY="+operatorKey,
		"PARTNERGATE_SECRET_KEY="+secretKey,
		"XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// launch starts the node's process on its Caddyfile and waits until the
// admin API answers.
func (n *node) launch(t *testing.T, env ...string) {
	t.Helper()
	n.cmd = gatewayCommand(context.Background(), n.dir, n.caddyfile, env...)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := n.admin("GET", "/api/v1/partners", nil)
		if err == nil && resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partnergate did not start: %v\n%s", err, n.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// globalOptions is a Caddyfile's global block: Caddy's own options, then
// the partnergate app with the test keys, the store and extra options.
func globalOptions(caddy []string, store string, options ...string) string {
	return fmt.Sprintf(`{
	%s
	partnergate {
		store %s
		base_domain %s
		operator_key {env.PARTNERGATE_OPERATOR_KEY}
		secret_key {env.PARTNERGATE_SECRET_KEY}
		%s
	}
}
`, strings.Join(caddy, "\n\t"), store, baseDomain, strings.Join(options, "\n\t\t"))
}

// adminSite is the Caddyfile site of the admin API on port.
func adminSite(port string) string {
	return "http://admin.localhost:" + port + " {\n\thandle /scim/v2/* {\n\t\tpartner_scim\n\t}\n\thandle {\n\t\tpartner_admin\n\t}\n}\n"
}

// writeCaddyfile writes the acceptance Caddyfile with this node's port,
// store and upstream.
func (n *node) writeCaddyfile(t *testing.T, cfg nodeConfig) {
	t.Helper()
	admin := "off"
	if cfg.adminAddr != "" {
		admin = cfg.adminAddr
	}
	writeFile(t, n.caddyfile, globalOptions([]string{"admin " + admin}, cfg.store, cfg.options...)+fmt.Sprintf(`http://*.%s:%s {
	handle_path /.partnergate/admin/* {
		partner_admin
	}
	handle {
		partner_auth
		request_header X-Log-User {http.auth.user.id}
		reverse_proxy %s
	}
}
`, baseDomain, n.port, cfg.upstream)+adminSite(n.port))
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (n *node) stop() {
	if n.cmd.Process == nil || n.cmd.ProcessState != nil {
		return
	}
	n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	if n.t.Failed() {
		n.t.Logf("partnergate on :%s logged:\n%s", n.port, n.logs)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// client returns an HTTP client that reaches this node for any hostname
// (*.localhost names do not resolve through Go's resolver here), keeps
// cookies like a browser and does not follow redirects.
func (n *node) client() *http.Client {
	return dialClient("127.0.0.1:"+n.port, nil)
}

// dialClient returns a client like node.client's that sends every request
// to addr, with tlsConfig for HTTPS.
func dialClient(addr string, tlsConfig *tls.Config) *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: false,
			TLSClientConfig:   tlsConfig,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// rawClient is a client that sends exactly the Cookie header it is given.
func (n *node) rawClient() *http.Client {
	return withoutJar(n.client())
}

// withoutJar returns a copy of c that keeps no cookies.
func withoutJar(c *http.Client) *http.Client {
	raw := *c
	raw.Jar = nil
	return &raw
}

func (n *node) url(host, path string) string {
	return "http://" + host + ":" + n.port + path
}

func partnerHost(id string) string { return id + "." + baseDomain }

// admin calls the admin API with the operator key.
func (n *node) admin(method, path string, body any) (*http.Response, error) {
	var raw string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		raw = string(b)
	}
	return n.adminRaw(method, path, "application/json", raw)
}

// adminRaw calls the admin API with the operator key and a body sent as
// written; an empty contentType sends none. It never calls t.Fatal.
func (n *node) adminRaw(method, path, contentType, body string) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url("admin.localhost", path), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+operatorKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := roundTrip(n.client(), req, nil)
	if err == nil {
		n.checkContract(req, resp)
	}
	return resp, err
}

// mustAdminRaw is adminRaw failing the test when no answer comes.
func (n *node) mustAdminRaw(t *testing.T, method, path, contentType, body string) *http.Response {
	t.Helper()
	resp, err := n.adminRaw(method, path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// mustAdmin calls the admin API and decodes the answer, failing unless the
// status is want.
func (n *node) mustAdmin(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	resp, err := n.admin(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return out
}

// seedPartner creates a partner with one user and returns the user's id.
func (n *node) seedPartner(t *testing.T, id, name, email, password string) string {
	t.Helper()
	n.mustAdmin(t, "POST", "/api/v1/partners", map[string]any{"id": id, "name": name, "hostnames": []string{}}, http.StatusCreated)
	u := n.mustAdmin(t, "POST", "/api/v1/partners/"+id+"/users", map[string]any{"email": email, "name": name + " User", "password": password}, http.StatusCreated)
	// The directory reloads on the partner event; wait until the host answers.
	n.waitHost(t, partnerHost(id))
	return u["id"].(string)
}

func (n *node) waitHost(t *testing.T, host string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := n.client().Get(n.url(host, "/.partnergate/login"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s never resolved (last: %v)", host, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads a page and returns the CSRF token of its form.
func csrf(t *testing.T, c *http.Client, pageURL string) string {
	t.Helper()
	resp, err := c.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	return formToken(t, resp)
}

// formToken reads a page and returns the CSRF token of its form.
func formToken(t *testing.T, page *http.Response) string {
	t.Helper()
	defer page.Body.Close()
	b, _ := io.ReadAll(page.Body)
	m := csrfField.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no csrf_token on %s (status %d): %s", page.Request.URL, page.StatusCode, b)
	}
	return string(m[1])
}

// login signs in through the partner's login form and returns the answer.
func (n *node) login(t *testing.T, c *http.Client, host, email, password, returnTo string) *http.Response {
	t.Helper()
	token := csrf(t, c, n.url(host, "/.partnergate/login"))
	form := url.Values{"email": {email}, "password": {password}, "csrf_token": {token}, "return_to": {returnTo}}
	return postForm(t, c, n.url(host, "/.partnergate/login"), form, nil)
}

// mustLogin signs in and fails the test unless it worked.
func (n *node) mustLogin(t *testing.T, c *http.Client, host, email, password string) {
	t.Helper()
	resp := n.login(t, c, host, email, password, "/")
	if resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign-in as %s: status %d, want 303: %s", email, resp.StatusCode, b)
	}
}

// logout signs out through the sign-out form.
func (n *node) logout(t *testing.T, c *http.Client, host string) {
	t.Helper()
	token := csrf(t, c, n.url(host, "/.partnergate/logout"))
	resp, err := c.PostForm(n.url(host, "/.partnergate/logout"), url.Values{"csrf_token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-out: status %d, want 200", resp.StatusCode)
	}
}

// roundTrip sends req with extra headers and returns the answer with its
// body read; it never calls t.Fatal, so goroutines may use it.
func roundTrip(c *http.Client, req *http.Request, header http.Header) (*http.Response, error) {
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// send is roundTrip failing the test when no answer comes.
func send(t *testing.T, c *http.Client, req *http.Request, header http.Header) *http.Response {
	t.Helper()
	resp, err := roundTrip(c, req, header)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// get sends a GET as an API client (no text/html) with extra headers.
func get(t *testing.T, c *http.Client, u string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, c, req, header)
}

func newBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}
