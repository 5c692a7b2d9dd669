package portal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/admin"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/internal/teststore"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
)

// Tests drive the portal as a browser does, through a real admin API on
// a real store of each backend.

const (
	testKey  = "portal-test-operator-key-0123"
	testBase = "apps.localhost"
	// adminHost is the sidecar site; partner admins use <id>.testBase,
	// where the portal is mounted under /.partnergate/admin.
	adminHost   = "admin.localhost"
	partnerPath = "/.partnergate/admin"
)

var testSecret = bytes.Repeat([]byte("p"), 32)

type env struct {
	t        testing.TB
	store    store.Store
	sessions *session.Manager
	dir      *gateway.Directory
	api      *admin.Handler
	portal   *Handler
}

// eachBackend runs test on a fresh env per store backend.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	t.Helper()
	for _, backend := range teststore.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, backend))
		})
	}
}

func newEnv(t testing.TB, backend string, opts ...func(*Config)) *env {
	t.Helper()
	st := teststore.Open(t, backend)
	e := &env{t: t, store: st}
	var err error
	e.sessions, err = session.NewManager(session.Config{Store: st, MACKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	e.sessions.SetHealthy(true)
	e.dir = gateway.NewDirectory(testBase, st.ListPartners)
	log, err := audit.New(audit.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	e.api, err = admin.New(admin.Config{
		Store:        st,
		OperatorKeys: []admin.OperatorKey{{Name: "ops", Key: testKey}},
		BaseDomain:   testBase,
		Revoker:      e.sessions,
		Sessions:     gateway.SessionResolver{Directory: e.dir, Sessions: e.sessions},
		Audit:        log,
		SecretKey:    testSecret,
		SecretsKey:   bytes.Repeat([]byte("s"), 32),
		LinkScheme:   "http",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		API:       e.api,
		SecretKey: testSecret,
		PartnerOf: func(r *http.Request) (string, bool) {
			p, ok := e.dir.Resolve(r.Host)
			if !ok {
				return "", false
			}
			return p.ID, true
		},
		InsecureCookies: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.portal, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// serve routes as the example Caddyfile does: on a partner's host the
// API and portal live under /.partnergate/admin/, on the admin host at
// the root; the API answers under /api/.
func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			e.api.ServeHTTP(w, r)
			return
		}
		e.portal.ServeHTTP(w, r)
	}))
	if r.Host != adminHost {
		h = http.StripPrefix(partnerPath, h)
	}
	h.ServeHTTP(w, r)
}

// apiJSON calls the API with the operator key and decodes a 2xx answer.
func (e *env) apiJSON(method, path string, body any, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, "http://"+adminHost+path, rd)
	r.Header.Set("Authorization", "Bearer "+testKey)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code < 200 || w.Code > 299 {
		e.t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			e.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
}

// partner creates a partner and makes its hostname resolvable.
func (e *env) partner(id string) {
	e.t.Helper()
	e.apiJSON("POST", "/api/v1/partners", map[string]any{"id": id, "name": strings.ToUpper(id[:1]) + id[1:] + " Corp"}, nil)
	if err := e.dir.Reload(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// user creates an active user and returns its id.
func (e *env) user(partnerID, email string) string {
	e.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/users", map[string]any{"email": email, "name": strings.Split(email, "@")[0]}, &u)
	return u.ID
}

// partnerAdmin creates a user holding the partner_admin role through a
// group and a role mapping, and returns a browser signed in as them on
// the partner's host.
func (e *env) partnerAdmin(partnerID, email string) *browser {
	e.t.Helper()
	id := e.user(partnerID, email)
	var g struct {
		ID string `json:"id"`
	}
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/groups", map[string]any{"name": "Admins " + email}, &g)
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/groups/"+g.ID+"/members", map[string]any{"members": []string{id}}, nil)
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/role-mappings", map[string]any{"group": g.ID, "role": admin.PartnerAdminRole}, nil)
	return e.signedIn(partnerID, id)
}

// signedIn is a browser on the partner's host holding a session of the
// user.
func (e *env) signedIn(partnerID, userID string) *browser {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), partnerID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	cookie, _, err := e.sessions.Issue(e.t.Context(), u, "192.0.2.10", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser(partnerID + "." + testBase)
	b.cookies["pg_session"] = cookie
	return b
}

// operator is a browser signed in to the portal on the admin host with
// the operator key.
func (e *env) operator() *browser {
	e.t.Helper()
	b := e.browser(adminHost)
	res := b.post("/sign-in", url.Values{"key": {testKey}})
	if res.status != http.StatusSeeOther {
		e.t.Fatalf("operator sign-in: %d\n%s", res.status, res.body)
	}
	return b
}

// browser keeps cookies for one host and sends requests straight to the
// env's routing.
type browser struct {
	e       *env
	host    string
	cookies map[string]string
}

func (e *env) browser(host string) *browser {
	return &browser{e: e, host: host, cookies: map[string]string{}}
}

// response is what a request answered.
type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) prefix() string {
	if b.host == adminHost {
		return ""
	}
	return partnerPath
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	return b.do(httptest.NewRequest("GET", "http://"+b.host+b.prefix()+path, nil))
}

// post sends a form. The CSRF token is added from the last page's
// "csrf" field unless the form sets one.
func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	r := httptest.NewRequest("POST", "http://"+b.host+b.prefix()+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// form posts to path with the CSRF token taken from the page at from.
func (b *browser) form(from, path string, form url.Values) response {
	b.e.t.Helper()
	page := b.get(from)
	if page.status != http.StatusOK {
		b.e.t.Fatalf("GET %s: %d\n%s", from, page.status, page.body)
	}
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", csrfOf(b.e.t, page.body))
	}
	return b.post(path, form)
}

func (b *browser) do(r *http.Request) response {
	for name, value := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	w := httptest.NewRecorder()
	b.e.serve(w, r)
	res := w.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c.Value
	}
	return response{status: w.Code, header: w.Header(), body: w.Body.String()}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field on the page:\n%s", body)
	}
	return m[1]
}
