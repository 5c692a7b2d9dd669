package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

const (
	maxFormBytes = 16 << 10
)

// The one message for every failed sign-in, so it tells nobody which part
// was wrong or whether the account exists.
const (
	msgBadCredentials  = "Incorrect email or password."
	msgTooMany         = "Too many failed attempts. Wait a few minutes, then try again."
	msgExpiredForm     = "This form expired. Please try again."
	msgUnavailable     = "Sign-in is unavailable right now. Please try again shortly."
	msgPasswordNeeded  = "Enter your password, or use your organization’s single sign-on."
	msgPasskeyRequired = "Your organization signs you in with a passkey. Use “Sign in with a passkey” below."
	msgPasswordExpired = "Your password has expired. Ask your administrator for a reset link to choose a new one."
)

func (g *Gateway) serveReserved(w http.ResponseWriter, r *http.Request, p *Partner) {
	h := w.Header()
	setPageHeaders(h)
	route := strings.TrimPrefix(r.URL.Path, g.cfg.Prefix)
	if g.cfg.SSO != nil && g.serveSSO(w, r, p, route) {
		return
	}
	if g.servePasskey(w, r, p, route) || g.serveMFA(w, r, p, route) || g.serveAccount(w, r, p, route) || g.serveBranding(w, r, p, route) {
		return
	}
	switch {
	case route == "login" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.showLogin(w, r, p, http.StatusOK, "", "", r.URL.Query().Get("return_to"))
	case route == "login" && r.Method == http.MethodPost:
		g.login(w, r, p)
	case route == "logout" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.showLogout(w, r, p)
	case route == "logout" && r.Method == http.MethodPost:
		g.logout(w, r, p)
	case route == "password" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.showPasswordLink(w, r, p)
	case route == "password" && r.Method == http.MethodPost:
		g.setPassword(w, r, p)
	case strings.HasPrefix(route, "assets/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.Set("Cache-Control", "public, max-age=86400")
		g.assets.ServeHTTP(w, r)
	case route == "login" || route == "logout" || route == "password" || (g.cfg.SSO != nil && slices.Contains(ssoRoutes, route)):
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	default:
		g.render(w, http.StatusNotFound, templates.PageNotFound, templates.NotFound{Page: g.page(r.Context(), p, "Page not found"), LoginURL: g.cfg.Prefix + "login"})
	}
}

// setPageHeaders locks down what the gateway's own pages may load and
// who may frame them.
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under it browsers send "Origin: null" on form
	// posts, which the origin check must refuse.
	h.Set("Referrer-Policy", "same-origin")
}

func (g *Gateway) showLogin(w http.ResponseWriter, r *http.Request, p *Partner, status int, email, msg, returnTo string) {
	returnTo = safeReturnPath(returnTo, g.cfg.Prefix)
	page := templates.Login{
		Page:      g.page(r.Context(), p, "Sign in"),
		Action:    g.cfg.Prefix + "login",
		CSRFToken: g.csrfToken(w, r, p, "login"),
		ReturnTo:  returnTo,
		Email:     email,
		Error:     msg,
	}
	page.Connections, page.PasswordOptional = g.ssoOptions(r.Context(), p, returnTo)
	// Without its policy the page still offers every way in: the sign-in
	// itself reads the policy and refuses what it forbids.
	if pol, err := g.policyOf(r.Context(), p); err == nil {
		page.SSOOnly = pol.SSOIsRequired() || pol.PasswordlessMode() == policy.PasswordlessRequired
		page.Passkey = g.passkeyButton(w, r, p, pol, returnTo)
	}
	g.render(w, status, templates.PageLogin, page)
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request, p *Partner) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: malformed form", http.StatusBadRequest)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	returnTo := r.PostForm.Get("return_to")
	if !sameOrigin(r) || !g.checkCSRF(r, p, "login") {
		g.showLogin(w, r, p, http.StatusForbidden, email, msgExpiredForm, returnTo)
		return
	}
	if g.homeRealm(w, r, p, email, returnTo) {
		return
	}
	pol, err := g.policyOf(r.Context(), p)
	if err != nil {
		g.loginUnavailable(w, r, p, email, returnTo, err)
		return
	}
	if pol.SSOIsRequired() {
		g.showLogin(w, r, p, http.StatusForbidden, email, msgSSORequired, returnTo)
		return
	}
	if pol.PasswordlessMode() == policy.PasswordlessRequired {
		g.showLogin(w, r, p, http.StatusForbidden, email, msgPasskeyRequired, returnTo)
		return
	}
	if r.PostForm.Get("password") == "" {
		g.showLogin(w, r, p, http.StatusUnprocessableEntity, email, msgPasswordNeeded, returnTo)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	user, err := g.cfg.Store.GetUserByEmail(ctx, p.ID, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.loginUnavailable(w, r, p, email, returnTo, err)
		return
	}
	known := err == nil
	// Count attempts against the canonical user id, so spellings of one
	// email share a budget; unknown emails still get one so probing them
	// costs the same.
	account := emailCounter(email)
	if known {
		account = userCounter(user.ID)
	}
	clientIP := g.clientIP(r)
	ip := "login:ip:" + clientIP
	allowed, crossed, err := g.admit(ctx, p, g.limits(pol), account, ip)
	if err != nil {
		g.loginUnavailable(w, r, p, email, returnTo, err)
		return
	}
	if !allowed {
		// Only the attempt that crossed a limit is recorded, so a flood
		// of refused guesses cannot push real events out of the trail.
		if crossed {
			g.record(r, p, signInEvent{action: "signin", user: user, email: email, reason: "rate_limited"})
		}
		g.cfg.Logger.Info("sign-in refused: attempt limit", zap.String("partner", p.ID))
		g.showLogin(w, r, p, http.StatusTooManyRequests, email, msgTooMany, returnTo)
		return
	}
	ok, err := g.checkPassword(r.Context(), user, known, r.PostForm.Get("password"))
	if err != nil {
		g.loginUnavailable(w, r, p, email, returnTo, err)
		return
	}
	if !ok {
		g.record(r, p, signInEvent{action: "signin", user: user, email: email, reason: "bad_credentials"})
		g.cfg.Logger.Info("sign-in failed", zap.String("partner", p.ID), zap.Bool("known_user", known))
		g.showLogin(w, r, p, http.StatusUnauthorized, email, msgBadCredentials, returnTo)
		return
	}
	// Only a right password learns it has expired, so this says nothing
	// about which accounts exist.
	if password.Expired(user.PasswordChangedAt, pol.MaxAge(), g.cfg.Now()) {
		g.record(r, p, signInEvent{action: "signin", user: user, email: email, reason: "password_expired"})
		g.showLogin(w, r, p, http.StatusUnauthorized, email, msgPasswordExpired, returnTo)
		return
	}
	// The password check may have waited for a slot: the rest gets a
	// store deadline of its own.
	ctx, cancel = context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	if err := g.cfg.Store.ResetCounter(ctx, p.ID, account); err != nil {
		g.cfg.Logger.Warn("reset sign-in failure count", zap.String("partner", p.ID), zap.Error(err))
	}
	g.finishFirstStep(w, r, p, user, returnTo, signInVia{Method: "password"})
}

// admit counts this attempt against the account and the address before
// the password is checked, so a burst of parallel guesses cannot all pass a
// check that only counted failures afterwards. crossed reports the one
// attempt that went over a limit.
func (g *Gateway) admit(ctx context.Context, p *Partner, limits Limits, account, ip string) (allowed, crossed bool, err error) {
	byAccount, err := g.cfg.Store.Incr(ctx, p.ID, account, limits.Window)
	if err != nil {
		return false, false, err
	}
	byIP, err := g.cfg.Store.Incr(ctx, p.ID, ip, g.cfg.Limits.Window)
	if err != nil {
		return false, false, err
	}
	accountLimit, ipLimit := int64(limits.AccountFailures), int64(g.cfg.Limits.IPAttempts)
	allowed = byAccount <= accountLimit && byIP <= ipLimit
	crossed = byAccount == accountLimit+1 || byIP == ipLimit+1
	return allowed, crossed, nil
}

// userCounter keys a known user's failed sign-ins.
func userCounter(userID string) string { return "login:user:" + userID }

// emailCounter keys the attempts on an email no user has. The email is
// whatever the client typed, up to the form's size, so the key holds its
// hash: every key has the same small size.
func emailCounter(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "login:acct:" + hex.EncodeToString(sum[:])
}

// checkPassword verifies the password, or burns the same time for an
// unknown, inactive or password-less user.
func (g *Gateway) checkPassword(ctx context.Context, user store.User, known bool, plain string) (bool, error) {
	release, err := g.cfg.Hashing.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	if !known || !user.Active || user.PasswordHash == "" {
		password.VerifyDummy(plain)
		return false, nil
	}
	ok, err := password.Verify(user.PasswordHash, plain)
	if err != nil {
		g.cfg.Logger.Error("stored password hash unreadable", zap.String("partner", user.PartnerID), zap.String("user", user.ID), zap.Error(err))
		return false, nil
	}
	return ok, nil
}

// endSessions revokes every session cookie the request carries: an
// attacker may have planted one beside the victim's, and ending only the
// first would leave the other alive.
func (g *Gateway) endSessions(ctx context.Context, r *http.Request, p *Partner) error {
	var errs []error
	for value := range cookieValues(r.Header, sessionCookieName(r)) {
		if sid, ok := g.cfg.Sessions.SessionID(p.ID, value); ok {
			errs = append(errs, g.cfg.Sessions.Revoke(ctx, p.ID, sid))
		}
	}
	return errors.Join(errs...)
}

func (g *Gateway) loginUnavailable(w http.ResponseWriter, r *http.Request, p *Partner, email, returnTo string, err error) {
	g.cfg.Logger.Error("sign-in unavailable", zap.String("partner", p.ID), zap.Error(err))
	w.Header().Set("Retry-After", "5")
	g.showLogin(w, r, p, http.StatusServiceUnavailable, email, msgUnavailable, returnTo)
}

func (g *Gateway) showLogout(w http.ResponseWriter, r *http.Request, p *Partner) {
	g.render(w, http.StatusOK, templates.PageSignOut, templates.SignOut{
		Page:      g.page(r.Context(), p, "Sign out"),
		Action:    g.cfg.Prefix + "logout",
		CSRFToken: g.csrfToken(w, r, p, "logout"),
	})
}

func (g *Gateway) logout(w http.ResponseWriter, r *http.Request, p *Partner) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: malformed form", http.StatusBadRequest)
		return
	}
	if !sameOrigin(r) || !g.checkCSRF(r, p, "logout") {
		g.showLogout(w, r, p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	// Who is signing out, for the trail; a dead session still signs out.
	who, _ := lookupSession(g.cfg.Sessions, r, p.ID)
	if err := g.endSessions(ctx, r, p); err != nil {
		g.cfg.Logger.Error("sign-out not completed", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Service Unavailable: sign-out could not be completed, try again", http.StatusServiceUnavailable)
		return
	}
	if who != nil {
		g.record(r, p, signInEvent{action: "signout", user: store.User{ID: who.UserID}, email: who.Email, ok: true})
	}
	g.cfg.Logger.Info("signed out", zap.String("partner", p.ID))
	http.SetCookie(w, g.sessionCookie(r, "", -1))
	w.Header().Set("Cache-Control", "no-store")
	g.render(w, http.StatusOK, templates.PageSignedOut, g.signedOutPage(r.Context(), p))
}

func (g *Gateway) signedOutPage(ctx context.Context, p *Partner) templates.SignedOut {
	return templates.SignedOut{Page: g.page(ctx, p, "Signed out"), LoginURL: g.cfg.Prefix + "login"}
}

func (g *Gateway) page(ctx context.Context, p *Partner, title string) templates.Page {
	name, brand := g.brandOf(ctx, p)
	return templates.Page{PartnerName: name, AssetPrefix: g.cfg.Prefix + "assets/", Title: title, Brand: brand}
}

func (g *Gateway) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := g.cfg.Templates.Render(&buf, page, data); err != nil {
		g.cfg.Logger.Error("render page", zap.String("page", page), zap.Error(err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// sameOrigin refuses a cross-site form post when the browser says where it
// came from; the CSRF token covers browsers that do not say.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// csrfToken binds a form to this browser (a random cookie), this partner
// and one purpose, and sets the cookie if the browser has none yet.
func (g *Gateway) csrfToken(w http.ResponseWriter, r *http.Request, p *Partner, purpose string) string {
	name := csrfCookieName(r)
	var nonce string
	if c, err := r.Cookie(name); err == nil && len(c.Value) == 43 {
		nonce = c.Value
	} else {
		var b [32]byte
		rand.Read(b[:])
		nonce = base64.RawURLEncoding.EncodeToString(b[:])
		c := &http.Cookie{
			Name: name, Value: nonce, Path: "/", HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
		}
		http.SetCookie(w, c)
		// A page with several forms asks again: they all bind to this
		// one cookie.
		r.AddCookie(c)
	}
	return g.csrfMAC(p, purpose, nonce)
}

func (g *Gateway) checkCSRF(r *http.Request, p *Partner, purpose string) bool {
	return g.checkCSRFValue(r, p, purpose, r.PostForm.Get("csrf_token"))
}

// checkCSRFValue checks a token sent other than in a form: a script's
// header, a link's query.
func (g *Gateway) checkCSRFValue(r *http.Request, p *Partner, purpose, value string) bool {
	c, err := r.Cookie(csrfCookieName(r))
	if err != nil || len(c.Value) != 43 {
		return false
	}
	return hmac.Equal([]byte(value), []byte(g.csrfMAC(p, purpose, c.Value)))
}

func (g *Gateway) csrfMAC(p *Partner, purpose, nonce string) string {
	m := hmac.New(sha256.New, g.cfg.CSRFKey)
	m.Write([]byte(p.ID + "\x00" + purpose + "\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Cookies are host-only (no Domain), so one partner's subdomain can never
// set or read another's; under HTTPS the __Host- prefix makes browsers
// enforce that.
const (
	sessionCookieBase = "pg_session"
	csrfCookieBase    = "pg_csrf"
	hostPrefix        = "__Host-"
)

func sessionCookieName(r *http.Request) string { return cookieName(r, sessionCookieBase) }

func csrfCookieName(r *http.Request) string { return cookieName(r, csrfCookieBase) }

func cookieName(r *http.Request, base string) string {
	if r.TLS != nil {
		return hostPrefix + base
	}
	return base
}

func (g *Gateway) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     sessionCookieName(r),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}
}

func (g *Gateway) clientIP(r *http.Request) string {
	if g.cfg.ClientIP != nil {
		if ip := g.cfg.ClientIP(r); ip != "" {
			return ip
		}
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
