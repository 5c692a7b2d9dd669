package admin

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/internal/smtptest"
	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/password"
)

// mailArrival bounds waiting for the SMTP server; delivery over loopback
// takes milliseconds.
const mailArrival = 10 * time.Second

// startMail runs an SMTP server for the test and returns it with a sender
// that reaches it over STARTTLS, trusting its certificate, as a gateway
// configured for a real relay would.
func startMail(t *testing.T) (*smtptest.Server, *mail.SMTP) {
	t.Helper()
	srv := smtptest.Start(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{
		Host:    srv.Host(),
		Port:    srv.Port(),
		From:    "Partnergate <no-reply@gate.example.com>",
		RootCAs: srv.RootCAs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, sender
}

// mailed is a received link mail, taken apart.
type mailed struct {
	to            []string
	subject, text string
	html          string
	link, token   string
}

var linkPattern = regexp.MustCompile(`https?://[a-z0-9.-]+/\.partnergate/password\?token=([A-Za-z0-9_-]+)`)

// nthMail waits for the n-th message (1-based) and parses it; its text
// and HTML bodies must carry the same one link.
func nthMail(t *testing.T, srv *smtptest.Server, n int) mailed {
	t.Helper()
	msg := srv.Wait(t, n, mailArrival)[n-1]
	if !msg.TLS {
		t.Errorf("mail %d was sent in the clear", n)
	}
	p := msg.Parse(t)
	m := mailed{to: msg.To, subject: p.Subject, text: p.Text, html: p.HTML}
	links := linkPattern.FindAllStringSubmatch(p.Text, -1)
	if len(links) != 1 {
		t.Fatalf("mail %d holds links %v, want one:\n%s", n, links, p.Text)
	}
	m.link, m.token = links[0][0], links[0][1]
	if !strings.Contains(p.HTML, `href="`+m.link+`"`) {
		t.Errorf("the HTML body of mail %d does not link to %s", n, m.link)
	}
	return m
}

// TestInvitation invites a new user through a real SMTP server: the user
// is created as invited, the mail names the partner and carries a link
// to the partner's hostname whose token is a live invitation, and
// inviting again replaces the link.
func TestInvitation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		srv, sender := startMail(t)
		e := newEnvOn(t, backend, withMailer(sender))
		e.mustCall("POST", "/api/v1/partners", `{"id": "acme", "name": "Acme Corp"}`, http.StatusCreated)
		ctx := t.Context()

		rec := e.call("POST", "/api/v1/partners/acme/invitations", `{"email": "Zoe@Acme.example", "name": "Zoë Müller"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("invite = %d %s", rec.Code, rec.Body)
		}
		inv := decodeAs[invitationJSON](t, rec.Body.Bytes())
		if inv.User.Status != statusInvited || !inv.User.Active || inv.User.Email != "Zoe@Acme.example" || inv.User.Name != "Zoë Müller" {
			t.Errorf("invited user = %+v", inv.User)
		}
		if want := t0.Add(72 * time.Hour); !inv.ExpiresAt.Equal(want) {
			t.Errorf("expires_at = %v, want %v", inv.ExpiresAt, want)
		}
		if got, want := rec.Header().Get("Location"), "/api/v1/partners/acme/users/"+inv.User.ID; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		var got userJSON
		e.mustJSON("GET", "/api/v1/partners/acme/users/"+inv.User.ID, "", http.StatusOK, &got)
		if got.Status != statusInvited {
			t.Errorf("GET shows status %q, want invited", got.Status)
		}

		first := nthMail(t, srv, 1)
		if len(first.to) != 1 || first.to[0] != "Zoe@Acme.example" {
			t.Errorf("mail went to %v", first.to)
		}
		if first.subject != "You're invited to Acme Corp" || !strings.Contains(first.text, "Acme Corp") || !strings.Contains(first.html, "Acme Corp") {
			t.Errorf("mail does not name the partner: %q\n%s", first.subject, first.text)
		}
		if !strings.HasPrefix(first.link, "https://acme.apps.localhost/.partnergate/password?token=") {
			t.Errorf("link = %s, want one to acme's sign-in hostname", first.link)
		}
		link, u, err := invite.Check(ctx, e.store, "acme", first.token)
		if err != nil || link.UserID != inv.User.ID || link.Purpose != invite.Invitation || u.Email != "Zoe@Acme.example" {
			t.Fatalf("invite.Check(mailed token) = %+v, %+v, %v", link, u, err)
		}

		// Inviting again (the address in any case) mails a new link
		// for the same user and voids the old one.
		rec = e.call("POST", "/api/v1/partners/acme/invitations", `{"email": "zoe@acme.example"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("invite again = %d %s", rec.Code, rec.Body)
		}
		if again := decodeAs[invitationJSON](t, rec.Body.Bytes()); again.User.ID != inv.User.ID || again.User.Status != statusInvited {
			t.Errorf("second invitation answered %+v, want the same invited user", again.User)
		}
		second := nthMail(t, srv, 2)
		if second.token == first.token {
			t.Fatalf("inviting again mailed the same link")
		}
		if _, _, err := invite.Check(ctx, e.store, "acme", first.token); !errors.Is(err, invite.ErrInvalid) {
			t.Errorf("the replaced link still checks: %v", err)
		}
		if link, _, err := invite.Check(ctx, e.store, "acme", second.token); err != nil || link.UserID != inv.User.ID {
			t.Errorf("the new link does not check: %+v, %v", link, err)
		}
		var users pageJSON[userJSON]
		e.mustJSON("GET", "/api/v1/partners/acme/users", "", http.StatusOK, &users)
		if len(users.Data) != 1 {
			t.Errorf("inviting twice made %d users", len(users.Data))
		}

		// A partner with a custom hostname gets links to it.
		e.mustCall("PATCH", "/api/v1/partners/acme", `{"hostnames": ["portal.acme.com", "login.acme.com"]}`, http.StatusOK)
		e.mustCall("POST", "/api/v1/partners/acme/invitations", `{"email": "yuki@acme.example"}`, http.StatusCreated)
		if third := nthMail(t, srv, 3); !strings.HasPrefix(third.link, "https://portal.acme.com/.partnergate/password?token=") {
			t.Errorf("link = %s, want one to the partner's first hostname", third.link)
		}

		page, err := e.audit.Query(ctx, "acme", audit.Query{Filter: audit.Filter{Action: "user.invite"}})
		if err != nil || len(page.Events) != 3 || page.Events[2].Target.ID != inv.User.ID {
			t.Errorf("audit of the invitations: %+v, %v", page.Events, err)
		}
		// The links were mailed, never shown to the admin.
		e.noLeak(first.token, second.token)
	})
}

// TestInvitationRefusals checks who cannot be invited: users who already
// have a password or are suspended, and bad requests. None of them is
// mailed or changed.
func TestInvitationRefusals(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		srv, sender := startMail(t)
		e := newEnvOn(t, backend, withMailer(sender))
		e.createPartner("acme")
		e.createUser("acme", `{"email": "has-password@acme.example", "password": "`+alicePassword+`"}`)
		suspended := e.createUser("acme", `{"email": "suspended@acme.example"}`)
		e.mustCall("POST", "/api/v1/partners/acme/users/"+suspended+"/suspend", "", http.StatusOK)
		tests := []struct {
			body, code, field string
			status            int
		}{
			{`{"email": "Has-Password@acme.example"}`, "conflict", "email", 409},
			{`{"email": "suspended@acme.example"}`, "conflict", "email", 409},
			{`{"email": "not an address"}`, "validation_failed", "email", 422},
			{`{"name": "Nobody"}`, "validation_failed", "email", 422},
			{`{"email": "x@acme.example", "password": "` + newPassword + `"}`, "unknown_field", "password", 400},
			{`{"email": "x@acme.example", "active": false}`, "unknown_field", "active", 400},
		}
		for _, tt := range tests {
			e.unchanged(func() {
				assertError(t, e.call("POST", "/api/v1/partners/acme/invitations", tt.body), tt.status, tt.code, tt.field)
			})
		}
		assertError(t, e.call("POST", "/api/v1/partners/nope/invitations", `{"email": "x@acme.example"}`), http.StatusNotFound, "not_found", "")
		if got := srv.Messages(); len(got) != 0 {
			t.Errorf("refused invitations sent %d mails", len(got))
		}
	})
}

// TestPasswordResetMail checks an admin-triggered reset mails a link of
// its own purpose while the old password keeps working until it is used.
func TestPasswordResetMail(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		srv, sender := startMail(t)
		e := newEnvOn(t, backend, withMailer(sender))
		e.mustCall("POST", "/api/v1/partners", `{"id": "acme", "name": "Acme Corp"}`, http.StatusCreated)
		id := e.createUser("acme", `{"email": "alice@acme.example", "password": "`+alicePassword+`"}`)
		before, err := e.store.GetUser(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}

		rec := e.call("POST", "/api/v1/partners/acme/users/"+id+"/password-reset", "")
		if rec.Code != http.StatusAccepted {
			t.Fatalf("reset = %d %s", rec.Code, rec.Body)
		}
		assertJSON(t, rec.Body.Bytes(), `{"expires_at": "`+t0.Add(72*time.Hour).Format(time.RFC3339Nano)+`"}`)
		m := nthMail(t, srv, 1)
		if len(m.to) != 1 || m.to[0] != "alice@acme.example" || m.subject != "Reset your Acme Corp password" {
			t.Errorf("reset mail to %v titled %q", m.to, m.subject)
		}
		link, _, err := invite.Check(t.Context(), e.store, "acme", m.token)
		if err != nil || link.Purpose != invite.PasswordReset || link.UserID != id {
			t.Errorf("invite.Check(reset token) = %+v, %v", link, err)
		}
		after, err := e.store.GetUser(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := password.Verify(after.PasswordHash, alicePassword); !ok || after.PasswordHash != before.PasswordHash {
			t.Errorf("a reset mail changed the password")
		}
		var u userJSON
		e.mustJSON("GET", "/api/v1/partners/acme/users/"+id, "", http.StatusOK, &u)
		if u.Status != statusActive {
			t.Errorf("a user with a password and a reset link shows as %q, want active", u.Status)
		}

		e.mustCall("POST", "/api/v1/partners/acme/users/"+id+"/suspend", "", http.StatusOK)
		assertError(t, e.call("POST", "/api/v1/partners/acme/users/"+id+"/password-reset", ""), http.StatusConflict, "conflict", "")
		assertError(t, e.call("POST", "/api/v1/partners/acme/users/u_aaaaaaaaaaaaaaaaaaaa/password-reset", ""), http.StatusNotFound, "not_found", "")
		if got := srv.Messages(); len(got) != 1 {
			t.Errorf("%d mails sent, want only the first reset", len(got))
		}
		e.noLeak(m.token)
	})
}

// TestInvitationWithoutMailer checks that without a mail sender nothing
// is created or changed and the client is told why.
func TestInvitationWithoutMailer(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "alice@acme.example", "password": "`+alicePassword+`"}`)
		e.unchanged(func() {
			assertError(t, e.call("POST", "/api/v1/partners/acme/invitations", `{"email": "new@acme.example"}`), http.StatusConflict, "mail_not_configured", "")
			assertError(t, e.call("POST", "/api/v1/partners/acme/users/"+id+"/password-reset", ""), http.StatusConflict, "mail_not_configured", "")
		})
	})
}

// failingSender fails its first n sends, then passes mail on.
type failingSender struct {
	mu   sync.Mutex
	n    int
	next mail.Sender
}

func (s *failingSender) Send(ctx context.Context, m mail.Message) error {
	s.mu.Lock()
	fail := s.n > 0
	s.n--
	s.mu.Unlock()
	if fail {
		return errors.New("relay refused the message")
	}
	return s.next.Send(ctx, m)
}

// TestInvitationMailFailure checks a mail that cannot be sent answers 502
// and repeating the request sends a working link.
func TestInvitationMailFailure(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		srv, sender := startMail(t)
		e := newEnvOn(t, backend, withMailer(&failingSender{n: 1, next: sender}))
		e.createPartner("acme")
		assertError(t, e.call("POST", "/api/v1/partners/acme/invitations", `{"email": "new@acme.example"}`), http.StatusBadGateway, "mail_failed", "")
		var inv invitationJSON
		e.mustJSON("POST", "/api/v1/partners/acme/invitations", `{"email": "new@acme.example"}`, http.StatusOK, &inv)
		m := nthMail(t, srv, 1)
		if link, _, err := invite.Check(t.Context(), e.store, "acme", m.token); err != nil || link.UserID != inv.User.ID {
			t.Errorf("the link mailed on retry does not check: %+v, %v", link, err)
		}
	})
}
