package gateway

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// auditTimeout bounds recording one event; the answer to the browser
// waits for it, so the trail never lags what users saw.
const auditTimeout = 2 * time.Second

// maxActorName bounds the email an event records. A failed sign-in
// records what the client typed, up to the form's 16 KiB; stored whole,
// anyone could fill the partner's trail, and the store under it, with a
// few thousand requests. No address is longer (RFC 5321).
const maxActorName = 254

// clip cuts s to at most n bytes without splitting a rune.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// signInEvent describes a sign-in step for the partner's audit trail.
type signInEvent struct {
	action string
	user   store.User // zero for an unknown email
	email  string
	ok     bool
	reason string
	// connection names the SSO connection of an SSO sign-in.
	connection string
}

// record writes one end-user event. A failure is logged: the user's
// action stands either way, and refusing it would turn an audit outage
// into a sign-in outage.
func (g *Gateway) record(r *http.Request, p *Partner, ev signInEvent) {
	e := audit.Event{
		PartnerID: p.ID,
		Actor:     audit.Actor{Type: audit.ActorUser, ID: ev.user.ID, Name: clip(ev.email, maxActorName)},
		Action:    ev.action,
		Outcome:   audit.Failure,
		Reason:    ev.reason,
		SourceIP:  g.clientIP(r),
	}
	if ev.user.ID != "" {
		e.Target = audit.Target{Type: "user", ID: ev.user.ID}
	}
	if ev.connection != "" {
		e.Changes = []audit.Change{{Field: "sso_connection", To: ev.connection}}
	}
	if ev.ok {
		e.Outcome = audit.Success
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if _, err := g.cfg.Audit.Record(ctx, e); err != nil {
		g.cfg.Logger.Error("audit event not recorded", zap.String("partner", p.ID), zap.String("action", ev.action), zap.Error(err))
	}
}
