package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

var (
	invitationFields = fieldSet{writable: []string{"email", "name"}}

	errNoMailer = &apiError{status: http.StatusConflict, code: "mail_not_configured", message: "no mail sender is configured, so links cannot be sent; set a password instead"}
)

// Link mails one user may be sent per window: every link is a mail
// through the platform's relay, so without a bound a partner admin, or a
// leaked admin token, could bomb a mailbox from the platform's sender.
const (
	linkMailsPerUser = 5
	linkMailWindow   = time.Hour
)

var errTooManyLinks = &apiError{
	status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: linkMailWindow,
	message: fmt.Sprintf("this user was sent %d links within the last %v; retry later", linkMailsPerUser, linkMailWindow),
}

// invitationJSON answers an invitation: the user and when the link dies.
type invitationJSON struct {
	User      userJSON  `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// invite creates the user if needed and mails a link to set a password.
// Inviting again replaces the earlier link; a user who already has a
// password gets a password reset instead.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, invitationFields)
	if err != nil {
		return err
	}
	in, err := decodeUser(m)
	if err != nil {
		return err
	}
	if err := in.validate(true); err != nil {
		return err
	}
	if h.mailer == nil {
		return errNoMailer
	}
	now := h.timestamp()
	u := store.User{ID: store.NewID("u_"), PartnerID: p.ID, Email: in.email.val, Name: in.name.val, Active: true, CreatedAt: now, UpdatedAt: now}
	status := http.StatusCreated
	if err := h.store.CreateUser(r.Context(), u); err != nil {
		if !errors.Is(err, store.ErrAlreadyExists) {
			return userWriteError(err)
		}
		existing, gerr := h.store.GetUserByEmail(r.Context(), p.ID, u.Email)
		if gerr != nil {
			return userWriteError(gerr)
		}
		switch {
		case !existing.Active:
			return conflict("email", "this user is suspended; resume them before inviting", nil)
		case existing.PasswordHash != "":
			return conflict("email", "this user already has a password; send a password reset instead", nil)
		}
		u, status = existing, http.StatusOK
	}
	noteTarget(r, "user", u.ID, change{Field: "email", To: u.Email})
	expires, err := h.sendLink(r, p, u, invite.Invitation)
	if err != nil {
		return err
	}
	u, err = h.store.GetUser(r.Context(), p.ID, u.ID)
	if err != nil {
		return userWriteError(err)
	}
	w.Header().Set("Location", userPath(p.ID, u.ID))
	return writeJSON(w, status, invitationJSON{User: toUserJSON(u), ExpiresAt: expires})
}

// resetPassword mails the user a link to choose a new password. The old
// password keeps working until the link is used.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) error {
	// The mail needs the partner as well as the user: loaded once each.
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	u, err := h.store.GetUser(r.Context(), p.ID, r.PathValue("userId"))
	if err != nil {
		return userWriteError(err)
	}
	if h.mailer == nil {
		return errNoMailer
	}
	if !u.Active {
		return conflict("", "this user is suspended; resume them first", nil)
	}
	noteTarget(r, "user", u.ID)
	expires, err := h.sendLink(r, p, u, invite.PasswordReset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, struct {
		ExpiresAt time.Time `json:"expires_at"`
	}{expires})
}

// sendLink issues a link and mails it. A mail that fails leaves a link
// nobody received; repeating the request replaces it.
func (h *Handler) sendLink(r *http.Request, p store.Partner, u store.User, purpose invite.Purpose) (time.Time, error) {
	// Counted before anything is sent, so concurrent requests cannot all
	// slip under the limit. Keys are per existing user: bounded.
	n, err := h.store.Incr(r.Context(), p.ID, "linkmail:user:"+u.ID, linkMailWindow)
	if err != nil {
		return time.Time{}, err
	}
	if n > linkMailsPerUser {
		return time.Time{}, errTooManyLinks
	}
	secret, err := invite.Issue(r.Context(), h.store, p.ID, u.ID, purpose, h.inviteTTL)
	if err != nil {
		return time.Time{}, userWriteError(err)
	}
	expires := h.timestamp().Add(h.inviteTTL)
	link := url.URL{
		Scheme:   h.linkScheme,
		Host:     h.partnerHost(p),
		Path:     "/.partnergate/password",
		RawQuery: url.Values{"token": {secret}}.Encode(),
	}
	subject, text, html, err := templates.LinkMail(templates.LinkMailData{
		PartnerName: p.Name,
		Email:       u.Email,
		URL:         link.String(),
		ExpiresAt:   expires,
		Purpose:     string(purpose),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("render link mail: %w", err)
	}
	err = h.mailer.Send(r.Context(), mail.Message{To: u.Email, Subject: subject, Text: text, HTML: html})
	if errors.Is(err, mail.ErrInvalidMessage) {
		var ps problems
		ps.add("email", "mail cannot be sent to this address (it must be plain ASCII without quoting)")
		return time.Time{}, ps.err()
	}
	if err != nil {
		return time.Time{}, &apiError{status: http.StatusBadGateway, code: "mail_failed", message: "the link could not be mailed; a user this request created is kept, and repeating the request sends a new link", cause: err}
	}
	return expires, nil
}

// partnerHost is where a partner's users sign in: its first custom
// hostname if it has one, else <id>.<base>.
func (h *Handler) partnerHost(p store.Partner) string {
	host := p.ID + "." + h.base
	if len(p.Hostnames) > 0 {
		host = p.Hostnames[0]
	}
	if h.linkPort != "" {
		host += ":" + h.linkPort
	}
	return host
}
