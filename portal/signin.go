package portal

import (
	"net/http"
	"strings"
	"time"
)

// signInPage is the data of the operator sign-in page.
type signInPage struct {
	frame
	Error string
}

func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request) {
	if h.site(r) != adminSite {
		h.toSignIn(w, r)
		return
	}
	h.renderOrFail(w, r, http.StatusOK, "sign_in", signInPage{frame: h.frame(r, nil, "Operator sign-in", "")})
}

// signIn checks an operator key against the API and keeps it sealed in
// the portal's cookie. Failed keys are counted by the API like any other
// failed authentication, so the form is no way around its rate limit.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if !h.sessionForm(w, r) {
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	page := signInPage{frame: h.frame(r, nil, "Operator sign-in", "")}
	// The key opens a server-side session and is then forgotten: the
	// cookie holds only the session's secret, which signing out ends.
	c := &client{api: h.cfg.API, from: r, cred: credential{bearer: key}}
	var opened struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	err := c.do(http.MethodPost, apiPath("operator-sessions"), nil, &opened)
	switch {
	case key == "":
		page.Error = "Enter your operator key."
	case isStatus(err, http.StatusTooManyRequests):
		page.Error = "Too many failed attempts. Wait a few minutes and try again."
	case isStatus(err, http.StatusUnauthorized), isStatus(err, http.StatusForbidden):
		page.Error = "That key is not an operator key."
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	if page.Error != "" {
		h.renderOrFail(w, r, http.StatusUnauthorized, "sign_in", page)
		return
	}
	if err := h.setSession(w, sealed{Kind: "operator", Secret: opened.Token, Expires: opened.ExpiresAt.Unix()}); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, basePath(r)+"/", http.StatusSeeOther)
}

// signOut ends the portal's own session, or for a partner admin hands
// over to the partner's sign-out, which ends the partner session.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	v, err := h.identify(r)
	if err != nil {
		h.clearSession(w)
		h.toSignIn(w, r)
		return
	}
	if err := parseForm(w, r); err != nil || !validCSRF(r.PostForm.Get("csrf"), v.csrf) {
		h.fail(w, r, v, errCSRF)
		return
	}
	if v.kind == partnerAdminViewer {
		http.Redirect(w, r, h.cfg.GatewayPrefix+"logout", http.StatusSeeOther)
		return
	}
	// The session ends on the server, so a copy of the cookie dies too.
	var end error
	if v.kind == setupViewer {
		end = v.api.do(http.MethodPost, apiPath("setup", "end"), nil, nil)
	} else {
		end = v.api.do(http.MethodDelete, apiPath("operator-sessions", "current"), nil, nil)
	}
	// The cookie is dropped only once the server has ended the session
	// (or it was over already): otherwise the person would believe they
	// signed out while copies of it still work, with no way to retry.
	if end != nil && !isStatus(end, http.StatusUnauthorized) {
		h.fail(w, r, v, end)
		return
	}
	h.clearSession(w)
	http.Redirect(w, r, v.base+"/sign-in", http.StatusSeeOther)
}

func (h *Handler) renderOrFail(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if err := h.render(w, status, name, data); err != nil {
		h.fail(w, r, nil, err)
	}
}

// sessionForm admits a form that starts a portal session: on the admin
// site only, and sent from it, since a form posted from another site
// would swap whatever session this browser has for the poster's. False
// when it answered.
func (h *Handler) sessionForm(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case h.site(r) != adminSite:
		h.toSignIn(w, r)
	case !sameOrigin(r):
		h.fail(w, r, nil, errCrossSite)
	default:
		if err := parseForm(w, r); err != nil {
			h.fail(w, r, nil, err)
			return false
		}
		return true
	}
	return false
}

var errCrossSite = &apiError{Status: http.StatusForbidden, Code: "cross_site", Message: "This form was sent from another site. Open the portal directly and try again."}

// setupStartPage is the data of the page a setup link opens. The link
// carries its token in the query, where access logs can redact it. Opening the
// link changes nothing: mail scanners and link previews fetch links, and
// must not use up a one-time link. The button does.
type setupStartPage struct {
	frame
	Token string
	Error string
}

func (h *Handler) showSetupStart(w http.ResponseWriter, r *http.Request) {
	if h.site(r) != adminSite {
		h.fail(w, r, nil, errNotHere)
		return
	}
	h.renderOrFail(w, r, http.StatusOK, "setup_start", setupStartPage{frame: h.frame(r, nil, "Set up single sign-on", ""), Token: r.URL.Query().Get("token")})
}

// redeemed is the API's answer to a setup link's redemption.
type redeemed struct {
	PartnerID string    `json:"partner_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// startSetup uses up the link and keeps the session secret the API hands
// back in its place, sealed in the portal's cookie: the link itself never
// works again, even for whoever copies it from the browser's history.
func (h *Handler) startSetup(w http.ResponseWriter, r *http.Request) {
	if !h.sessionForm(w, r) {
		return
	}
	if s, _, ok := h.session(r); ok && s.Kind == "operator" {
		h.renderOrFail(w, r, http.StatusConflict, "setup_start", setupStartPage{frame: h.frame(r, nil, "Set up single sign-on", ""),
			Error: "You are signed in here as an operator. Sign out first, or open the link in another browser profile: it is meant for the partner's IT admin."})
		return
	}
	token := r.PostForm.Get("token")
	page := setupStartPage{frame: h.frame(r, nil, "Set up single sign-on", ""), Token: token}
	c := &client{api: h.cfg.API, from: r, cred: credential{bearer: token}}
	var out redeemed
	err := c.do(http.MethodPost, apiPath("setup-links", "redeem"), nil, &out)
	switch {
	case isStatus(err, http.StatusGone):
		page.Error = "This setup link has already been used. Ask your platform contact for a new one."
	case isStatus(err, http.StatusUnauthorized), isStatus(err, http.StatusForbidden):
		page.Error = "This setup link is not valid: it may have expired or been revoked. Ask your platform contact for a new one."
	case isStatus(err, http.StatusTooManyRequests):
		page.Error = "Too many attempts. Wait a few minutes and try again."
	case err != nil:
		h.fail(w, r, nil, err)
		return
	}
	if page.Error != "" {
		page.Token = ""
		h.renderOrFail(w, r, http.StatusBadRequest, "setup_start", page)
		return
	}
	if err := h.setSession(w, sealed{Kind: "setup", Secret: out.Token, Partner: out.PartnerID, Expires: out.ExpiresAt.Unix()}); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, basePath(r)+"/", http.StatusSeeOther)
}
