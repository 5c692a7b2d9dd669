package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// These tests drive real WebAuthn ceremonies: headless Chromium with the
// DevTools virtual authenticator creates and signs, go-webauthn verifies.
// Nothing about the responses is synthesised in Go.

const chromiumPath = "/usr/bin/chromium"

// One browser for the package; every test gets its own tab, and a virtual
// authenticator belongs to its tab, so tests do not see each other's
// credentials.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel []context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(browser.cancel) - 1; i >= 0; i-- {
		browser.cancel[i]()
	}
	os.Exit(code)
}

func browserContext(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		// In CI a missing browser must not turn the WebAuthn tests into a
		// silent pass.
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not installed at %s (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("chromium not installed at %s", chromiumPath)
	}
	browser.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.NoSandbox,
			chromedp.ExecPath(chromiumPath),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		browser.cancel = []context.CancelFunc{acancel, bcancel}
		// Start the browser now, on a context without a deadline: a
		// deadline on the first run would bound the browser's life.
		browser.err = chromedp.Do(bctx)
		browser.ctx = bctx
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	return browser.ctx
}

// page is the relying party's web page: it fetches the options our Begin*
// made, runs navigator.credentials.create/get, and POSTs the result back —
// the same round trip the gateway's login page makes.
const page = `<!doctype html><meta charset="utf-8"><title>passkey test</title><script>
function dec(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s), a = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
  return a.buffer;
}
function enc(buf) {
  const a = new Uint8Array(buf);
  let s = '';
  for (const c of a) s += String.fromCharCode(c);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
async function ceremony(kind) {
  const opts = await (await fetch('/options')).json();
  const pk = opts.publicKey;
  pk.challenge = dec(pk.challenge);
  let cred;
  try {
    if (kind === 'create') {
      pk.user.id = dec(pk.user.id);
      (pk.excludeCredentials || []).forEach(c => c.id = dec(c.id));
      cred = await navigator.credentials.create({publicKey: pk});
    } else {
      (pk.allowCredentials || []).forEach(c => c.id = dec(c.id));
      cred = await navigator.credentials.get({publicKey: pk});
    }
  } catch (e) {
    return 'browser refused: ' + e.name;
  }
  const r = cred.response;
  const out = {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {clientDataJSON: enc(r.clientDataJSON)},
  };
  if (kind === 'create') {
    out.response.attestationObject = enc(r.attestationObject);
    out.response.transports = r.getTransports();
  } else {
    out.response.authenticatorData = enc(r.authenticatorData);
    out.response.signature = enc(r.signature);
    if (r.userHandle) out.response.userHandle = enc(r.userHandle);
  }
  const res = await fetch('/result', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(out)});
  return res.ok ? 'ok' : 'post failed';
}
</script>`

type harness struct {
	t      *testing.T
	tab    context.Context
	auth   cdpwebauthn.AuthenticatorID
	origin string
	rp     RP

	mu      sync.Mutex
	options []byte
	results chan []byte
}

// authenticator is the usual platform authenticator: CTAP2, built in, with
// resident keys and user verification that succeeds.
func authenticator() cdpwebauthn.VirtualAuthenticatorOptions {
	return cdpwebauthn.VirtualAuthenticatorOptions{
		Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                cdpwebauthn.Ctap2versionCtap21,
		Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}
}

func newHarness(t *testing.T, opts cdpwebauthn.VirtualAuthenticatorOptions) *harness {
	t.Helper()
	bctx := browserContext(t)
	h := &harness{t: t, results: make(chan []byte, 1)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("GET /options", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(h.options)
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case h.results <- body:
		default:
			http.Error(w, "unread result pending", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The RP id must be a host name, not an IP, and http://localhost is a
	// secure context: Chromium reaches the loopback listener by that name.
	h.origin = "http://localhost:" + port
	h.rp = RP{ID: "localhost", Name: "Acme (test)", Origins: []string{h.origin}}

	tab, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	// First call on the tab creates it; no deadline on this one.
	if _, err := chromedp.Call(tab, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(tab, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &opts})
	if err != nil {
		t.Fatalf("add virtual authenticator: %v", err)
	}
	h.auth = res.AuthenticatorID
	h.tab = tab
	ctx, cancelNav := context.WithTimeout(tab, 10*time.Second)
	defer cancelNav()
	if err := chromedp.Do(ctx, chromedp.Navigate(h.origin+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	return h
}

// ceremony serves options to the page, lets the browser run create or get,
// and returns what the browser posted back. A browser-side refusal comes back
// as an error.
func (h *harness) ceremony(kind string, options []byte) ([]byte, error) {
	h.t.Helper()
	h.mu.Lock()
	h.options = options
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.tab, 15*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("ceremony(%q)", kind), chromedp.EvalAwaitPromise))
	if err != nil {
		h.t.Fatalf("evaluate ceremony: %v", err)
	}
	if out != "ok" {
		return nil, errors.New(out)
	}
	select {
	case b := <-h.results:
		return b, nil
	case <-ctx.Done():
		h.t.Fatal("no result posted")
		return nil, nil
	}
}

func (h *harness) overrideBits(p cdpwebauthn.SetResponseOverrideBitsParams) {
	h.t.Helper()
	p.AuthenticatorID = h.auth
	if _, err := chromedp.Call(h.tab, cdpwebauthn.SetResponseOverrideBits, p); err != nil {
		h.t.Fatalf("set response override bits: %v", err)
	}
}

func (h *harness) setUserVerified(v bool) {
	h.t.Helper()
	if _, err := chromedp.Call(h.tab, cdpwebauthn.SetUserVerified, cdpwebauthn.SetUserVerifiedParams{AuthenticatorID: h.auth, IsUserVerified: v}); err != nil {
		h.t.Fatalf("set user verified: %v", err)
	}
}

// register runs a full registration and returns the user holding the new
// credential.
func (h *harness) register(u User, uv Verification, passkey bool) User {
	h.t.Helper()
	opts, c, err := BeginRegistration(h.rp, u, uv, passkey)
	if err != nil {
		h.t.Fatalf("BeginRegistration: %v", err)
	}
	resp, err := h.ceremony("create", opts)
	if err != nil {
		h.t.Fatalf("browser create: %v", err)
	}
	cred, err := FinishRegistration(h.rp, u, roundTrip(h.t, c), resp, time.Now())
	if err != nil {
		h.t.Fatalf("FinishRegistration: %v", err)
	}
	cred = roundTrip(h.t, cred) // as stored by the caller
	u.Credentials = append(u.Credentials, cred)
	return u
}

// login runs the browser side of a second-factor login.
func (h *harness) login(u User, uv Verification) (Ceremony, []byte) {
	h.t.Helper()
	opts, c, err := BeginLogin(h.rp, u, uv)
	if err != nil {
		h.t.Fatalf("BeginLogin: %v", err)
	}
	resp, err := h.ceremony("get", opts)
	if err != nil {
		h.t.Fatalf("browser get: %v", err)
	}
	return roundTrip(h.t, c), resp
}

func alice() User {
	return User{ID: []byte("user-7f3a9c2e-alice"), Name: "alice@acme.example", DisplayName: "Alice"}
}

// replaceCred returns u with the stored credential replaced by the updated
// one, as the caller's store would after FinishLogin.
func replaceCred(u User, c Credential) User {
	out := u
	out.Credentials = nil
	for _, have := range u.Credentials {
		if have.IDString() == c.IDString() {
			have = c
		}
		out.Credentials = append(out.Credentials, have)
	}
	return out
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: want %v, got %v", what, target, err)
	}
	t.Logf("%s: refused: %v", what, err)
}

// (1) Register, then log in as a second factor: the assertion verifies and
// the signature counter advances with every login.
func TestSecondFactorRegisterAndLogin(t *testing.T) {
	a := authenticator()
	a.HasResidentKey = false // a plain security key is enough for 2FA
	h := newHarness(t, a)
	u := h.register(alice(), VerificationPreferred, false)
	reg := u.Credentials[0]
	if reg.RPID != "localhost" || len(reg.ID()) == 0 {
		t.Fatalf("credential not bound to the RP: %+v", reg)
	}

	// The options offer exactly this user's credential.
	opts, c, err := BeginLogin(h.rp, u, VerificationPreferred)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opts), `"allowCredentials":[{"type":"public-key","id":"`+reg.IDString()+`"`) {
		t.Fatalf("allowCredentials does not name the user's credential: %s", opts)
	}
	resp, err := h.ceremony("get", opts)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := FinishLogin(h.rp, u, c, resp, time.Now())
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if upd.IDString() != reg.IDString() || upd.SignCount() <= reg.SignCount() {
		t.Fatalf("sign count not advanced: registered %d, after login %d", reg.SignCount(), upd.SignCount())
	}
	u = replaceCred(u, upd)

	c2, resp2 := h.login(u, VerificationPreferred)
	upd2, err := FinishLogin(h.rp, u, c2, resp2, time.Now())
	if err != nil {
		t.Fatalf("second FinishLogin: %v", err)
	}
	if upd2.SignCount() <= upd.SignCount() {
		t.Fatalf("sign count not advanced: %d then %d", upd.SignCount(), upd2.SignCount())
	}
	t.Logf("sign count: registration %d, login %d, login %d", reg.SignCount(), upd.SignCount(), upd2.SignCount())

	// A clone warning stored by older code is about a past assertion; a
	// counter that advances now still logs in.
	warned := upd2
	warned.WebAuthn.Authenticator.CloneWarning = true
	uw := replaceCred(u, warned)
	cw, respw := h.login(uw, VerificationPreferred)
	if _, err := FinishLogin(h.rp, uw, cw, respw, time.Now()); err != nil {
		t.Fatalf("login with a stale clone warning: %v", err)
	}
	upd2.WebAuthn.Authenticator.SignCount++ // the authenticator used one more

	// A cloned authenticator: the store has seen a higher counter than the
	// one this authenticator now reports.
	cloned := upd2
	cloned.WebAuthn.Authenticator.SignCount = upd2.SignCount() + 1000
	uc := replaceCred(u, cloned)
	c3, resp3 := h.login(uc, VerificationPreferred)
	_, err = FinishLogin(h.rp, uc, c3, resp3, time.Now())
	wantErr(t, err, ErrCloned, "counter went backwards")
	wantErr(t, err, ErrVerification, "counter went backwards")
}

// (2) A passkey: resident key and user verification at registration, then a
// discoverable login where the response itself names the user.
func TestPasskeyDiscoverableLogin(t *testing.T) {
	h := newHarness(t, authenticator())
	u := h.register(alice(), VerificationRequired, true)
	if !u.Credentials[0].Discoverable() {
		t.Fatal("passkey registration did not report a discoverable credential")
	}
	bob := User{ID: []byte("user-0b0b-bob"), Name: "bob@acme.example", DisplayName: "Bob"}
	users := map[string]User{string(u.ID): u, string(bob.ID): bob}

	opts, c, err := BeginPasskeyLogin(h.rp, VerificationRequired)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(opts), "allowCredentials") {
		t.Fatalf("discoverable login must not name credentials: %s", opts)
	}
	resp, err := h.ceremony("get", opts)
	if err != nil {
		t.Fatal(err)
	}
	handle, err := UserHandleOf(resp)
	if err != nil {
		t.Fatal(err)
	}
	who, ok := users[string(handle)]
	if !ok || who.Name != "alice@acme.example" {
		t.Fatalf("user handle %q did not resolve to alice", handle)
	}

	// Claiming the assertion for someone else fails, whatever the caller
	// loaded.
	_, err = FinishLogin(h.rp, bob, c, resp, time.Now())
	wantErr(t, err, ErrVerification, "assertion finished for another user")

	upd, err := FinishLogin(h.rp, who, c, resp, time.Now())
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if !upd.WebAuthn.Flags.UserVerified {
		t.Fatal("passkey login without the UV flag")
	}
}

// (3) The authenticator lies: a zero signature must not authenticate, and the
// error must not echo the response.
func TestBogusSignatureRefused(t *testing.T) {
	h := newHarness(t, authenticator())
	u := h.register(alice(), VerificationPreferred, false)
	h.overrideBits(cdpwebauthn.SetResponseOverrideBitsParams{IsBogusSignature: ptr(true)})
	c, resp := h.login(u, VerificationPreferred)
	_, err := FinishLogin(h.rp, u, c, resp, time.Now())
	wantErr(t, err, ErrVerification, "bogus signature")
	assertNoEcho(t, err, resp)
}

// assertNoEcho checks that no base64 value of the response leaks into err.
func assertNoEcho(t *testing.T, err error, resp []byte) {
	t.Helper()
	for _, f := range strings.FieldsFunc(string(resp), func(r rune) bool { return strings.ContainsRune(`{}[]":,`, r) }) {
		if len(f) >= 16 && strings.Contains(err.Error(), f) {
			t.Fatalf("error echoes the response (%q): %v", f, err)
		}
	}
}

// (4) Ceremonies are single use and expire: a replayed assertion or
// registration fails, a response does not fit another ceremony, and an
// expired ceremony is refused even with a perfect response.
func TestReplayAndExpiryRefused(t *testing.T) {
	h := newHarness(t, authenticator())

	// Registration: expired, then replayed after it was stored.
	opts, rc, err := BeginRegistration(h.rp, alice(), VerificationPreferred, false)
	if err != nil {
		t.Fatal(err)
	}
	regResp, err := h.ceremony("create", opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FinishRegistration(h.rp, alice(), rc, regResp, time.Now().Add(CeremonyTTL+time.Second))
	wantErr(t, err, ErrExpired, "expired registration")
	cred, err := FinishRegistration(h.rp, alice(), rc, regResp, time.Now())
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	u := alice()
	u.Credentials = []Credential{cred}
	_, err = FinishRegistration(h.rp, u, rc, regResp, time.Now())
	wantErr(t, err, ErrVerification, "replayed registration")

	// Login: a good assertion once, then replays of it.
	c1, resp1 := h.login(u, VerificationPreferred)
	upd, err := FinishLogin(h.rp, u, c1, resp1, time.Now())
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	u = replaceCred(u, upd)
	_, err = FinishLogin(h.rp, u, c1, resp1, time.Now())
	wantErr(t, err, ErrCloned, "same ceremony and assertion replayed")

	_, c2, err := BeginLogin(h.rp, u, VerificationPreferred)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FinishLogin(h.rp, u, c2, resp1, time.Now())
	wantErr(t, err, ErrVerification, "old assertion against a new ceremony")

	// Expiry with the injected clock, on both sides of the boundary.
	c3, resp3 := h.login(u, VerificationPreferred)
	_, err = FinishLogin(h.rp, u, c3, resp3, c3.Expires)
	wantErr(t, err, ErrExpired, "finished at the expiry instant")
	// A ceremony whose stored expiry was pushed out is not trusted either.
	stretched := c3
	stretched.Expires = time.Now().Add(time.Hour)
	_, err = FinishLogin(h.rp, u, stretched, resp3, time.Now())
	wantErr(t, err, ErrVerification, "stretched expiry")
	// A registration ceremony is no login ceremony.
	_, err = FinishLogin(h.rp, u, rc, resp3, time.Now())
	wantErr(t, err, ErrVerification, "registration ceremony used for login")
	// The same response within the lifetime verifies: expiry was the reason.
	if _, err = FinishLogin(h.rp, u, c3, resp3, c3.Expires.Add(-time.Second)); err != nil {
		t.Fatalf("in-time FinishLogin: %v", err)
	}
}

// (5) Partners do not share ceremonies or origins: a ceremony begun for
// another partner's RP id fails here, ours fails there, and an RP that does
// not list the page's origin refuses the response.
func TestOtherPartnerRefused(t *testing.T) {
	h := newHarness(t, authenticator())
	u := h.register(alice(), VerificationPreferred, true)
	c, resp := h.login(u, VerificationPreferred)

	globex := RP{ID: "globex.localhost", Name: "Globex", Origins: []string{strings.Replace(h.origin, "localhost", "globex.localhost", 1)}}
	_, gc, err := BeginPasskeyLogin(globex, VerificationPreferred)
	if err != nil {
		t.Fatal(err)
	}
	gc.Session.Challenge = c.Session.Challenge // even with the very challenge signed
	gc.Kind = c.Kind
	_, err = FinishLogin(h.rp, u, gc, resp, time.Now())
	wantErr(t, err, ErrOtherRP, "ceremony of another RP finished on ours")

	_, err = FinishLogin(globex, u, c, resp, time.Now())
	wantErr(t, err, ErrOtherRP, "our ceremony finished on another RP")

	// Same RP id, but the response was collected on an origin this site
	// does not serve.
	strict := RP{ID: "localhost", Name: "Acme", Origins: []string{"https://localhost"}}
	_, err = FinishLogin(strict, u, c, resp, time.Now())
	wantErr(t, err, ErrVerification, "origin not configured")

	// And the untouched combination works, so the refusals above were
	// about the partner, not a broken response.
	if _, err := FinishLogin(h.rp, u, c, resp, time.Now()); err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
}

// (6) When the policy requires user verification, an authenticator that does
// not verify the user cannot pass: not by failing UV, not by a client that
// downgrades the request, not by a cleared UV flag.
func TestUserVerificationEnforced(t *testing.T) {
	h := newHarness(t, authenticator())

	// Registration with UV required, the authenticator clearing the UV
	// flag: no credential.
	h.overrideBits(cdpwebauthn.SetResponseOverrideBitsParams{IsBadUV: ptr(true)})
	opts, rc, err := BeginRegistration(h.rp, alice(), VerificationRequired, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.ceremony("create", opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FinishRegistration(h.rp, alice(), rc, resp, time.Now())
	wantErr(t, err, ErrUserVerification, "registration without UV flag")
	h.overrideBits(cdpwebauthn.SetResponseOverrideBitsParams{})

	u := h.register(alice(), VerificationPreferred, false)

	// Login, UV flag cleared by the authenticator.
	h.overrideBits(cdpwebauthn.SetResponseOverrideBitsParams{IsBadUV: ptr(true)})
	c, resp := h.login(u, VerificationRequired)
	_, err = FinishLogin(h.rp, u, c, resp, time.Now())
	wantErr(t, err, ErrUserVerification, "login without UV flag")
	h.overrideBits(cdpwebauthn.SetResponseOverrideBitsParams{})

	// The user cannot be verified: the browser refuses by itself...
	h.setUserVerified(false)
	opts, _, err = BeginLogin(h.rp, u, VerificationRequired)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ceremony("get", opts); err == nil {
		t.Fatal("browser completed a UV-required assertion with failing UV")
	}
	// ...and a client that rewrites the options to skip UV gets an
	// assertion the server refuses, because the ceremony remembers
	// "required".
	opts, c, err = BeginLogin(h.rp, u, VerificationRequired)
	if err != nil {
		t.Fatal(err)
	}
	downgraded := []byte(strings.Replace(string(opts), `"userVerification":"required"`, `"userVerification":"discouraged"`, 1))
	if string(downgraded) == string(opts) {
		t.Fatalf("options carry no userVerification to downgrade: %s", opts)
	}
	resp, err = h.ceremony("get", downgraded)
	if err != nil {
		t.Fatalf("browser get (downgraded): %v", err)
	}
	_, err = FinishLogin(h.rp, u, c, resp, time.Now())
	wantErr(t, err, ErrUserVerification, "downgraded UV")
}

func ptr[T any](v T) *T { return &v }

// roundTrip stores and loads v as JSON, the way the caller keeps ceremonies
// in tickets and credentials in the user store; everything verified after it
// is verified against what survived serialisation.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return out
}
