package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/store"
)

// Tests from a security review of delegated administration. Each one
// tries to break a property a partner, a leaked credential or an
// unauthenticated client could otherwise abuse.

// srToken creates an admin token with the operator key and returns its
// id and secret.
func srToken(e *env, partnerID, body string) (id, secret string) {
	e.t.Helper()
	var tok struct{ ID, Token string }
	if err := json.Unmarshal(e.mustCall("POST", "/api/v1/partners/"+partnerID+"/admin-tokens", body, http.StatusCreated), &tok); err != nil {
		e.t.Fatal(err)
	}
	return tok.ID, tok.Token
}

// srCountingStore counts the reads the review tests bound.
type srCountingStore struct {
	store.Store
	usersRead       atomic.Int64 // users returned by ListUsers
	wholeMemberList atomic.Int64 // ListGroupMembers calls without a limit
}

func (s *srCountingStore) ListUsers(ctx context.Context, partnerID string, page store.Page) ([]store.User, error) {
	us, err := s.Store.ListUsers(ctx, partnerID, page)
	s.usersRead.Add(int64(len(us)))
	return us, err
}

func (s *srCountingStore) ListGroupMembers(ctx context.Context, partnerID, groupID string, page store.Page) ([]string, error) {
	if page.Limit == 0 {
		s.wholeMemberList.Add(1)
	}
	return s.Store.ListGroupMembers(ctx, partnerID, groupID, page)
}

func withCounting(s *srCountingStore) func(*Config) {
	return func(c *Config) {
		s.Store = c.Store
		c.Store = s
	}
}

// TestReviewPasswordHashingIsBounded: before delegated administration only
// operators reached the admin API's argon2id hashing; now every partner's
// admins do. Each hash holds about 19 MiB, so unbounded concurrent password
// writes from one partner could exhaust the memory of a node every partner
// shares. Hashes in flight are capped as the gateway caps its own, and a
// request that cannot get a slot in time answers 503 with Retry-After.
func TestReviewPasswordHashingIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	_, tok := srToken(e, "acme", `{"name": "automation"}`)
	id := e.createUser("acme", `{"email": "a@acme.example"}`)

	stored, err := password.Hash(newPassword)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var inFlight, peak atomic.Int32
	e.h.hashing = password.NewLimiter(1, 50*time.Millisecond)
	e.h.hashFn = func(string) (string, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		return stored, nil
	}

	const n = 3
	type answer struct {
		code       int
		retryAfter string
	}
	answers := make(chan answer, n)
	for range n {
		go func() {
			rec := e.do(request{method: "PUT", path: "/api/v1/partners/acme/users/" + id + "/password",
				body: `{"password": "` + newPassword + `"}`, auth: bearer(tok)})
			answers <- answer{rec.Code, rec.Header().Get("Retry-After")}
		}()
	}
	// One request holds the only slot; the others must give up rather
	// than hash beside it.
	var got []answer
	timeout := time.After(5 * time.Second)
	for len(got) < n-1 {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-timeout:
			close(release)
			t.Fatalf("after 5s only %d of %d requests answered and %d hashes ran at once: password hashing is not bounded", len(got), n-1, peak.Load())
		}
	}
	close(release)
	got = append(got, <-answers)
	var ok, busy int
	for _, a := range got {
		switch {
		case a.code == http.StatusNoContent:
			ok++
		case a.code == http.StatusServiceUnavailable && a.retryAfter != "":
			busy++
		default:
			t.Errorf("answer %+v, want 204 or 503 with Retry-After", a)
		}
	}
	if ok != 1 || busy != n-1 || peak.Load() != 1 {
		t.Errorf("%d set, %d refused, %d hashes at once; want 1, %d, 1", ok, busy, peak.Load(), n-1)
	}
}

// TestReviewLinkDiesWithEmailChange: a password link belongs to the
// mailbox it was sent to. An admin who fixes a mistyped address, or moves
// an account to a new owner's address, must not leave the old mailbox
// holding a link that sets the account's password.
func TestReviewLinkDiesWithEmailChange(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		ctx := t.Context()
		invited := e.createUser("acme", `{"email": "bob@typo.example"}`)
		inviteLink, err := invite.Issue(ctx, e.store, "acme", invited, invite.Invitation, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		withPassword := e.createUser("acme", `{"email": "carol@old.example", "password": "`+newPassword+`"}`)
		resetLink, err := invite.Issue(ctx, e.store, "acme", withPassword, invite.PasswordReset, time.Hour)
		if err != nil {
			t.Fatal(err)
		}

		// Neither a rename nor a change of letter case moves the
		// mailbox: the links keep working.
		e.mustCall("PATCH", userPath("acme", invited), `{"name": "Bob"}`, http.StatusOK)
		e.mustCall("PATCH", userPath("acme", invited), `{"email": "Bob@Typo.example"}`, http.StatusOK)
		if _, _, err := invite.Check(ctx, e.store, "acme", inviteLink); err != nil {
			t.Fatalf("link after a rename and a case change: %v", err)
		}

		e.mustCall("PATCH", userPath("acme", invited), `{"email": "bob@acme.example"}`, http.StatusOK)
		e.mustCall("PATCH", userPath("acme", withPassword), `{"email": "carol@new.example"}`, http.StatusOK)
		for name, link := range map[string]string{"invitation": inviteLink, "reset": resetLink} {
			if _, _, err := invite.Check(ctx, e.store, "acme", link); !errors.Is(err, invite.ErrInvalid) {
				t.Errorf("%s link after the email changed: Check = %v, want ErrInvalid", name, err)
			}
			if _, err := invite.Redeem(ctx, e.store, "acme", link, "attacker's hash", time.Now()); !errors.Is(err, invite.ErrInvalid) {
				t.Errorf("%s link after the email changed: Redeem = %v, want ErrInvalid", name, err)
			}
		}
		var u userJSON
		if err := json.Unmarshal(e.mustCall("GET", userPath("acme", invited), "", http.StatusOK), &u); err != nil {
			t.Fatal(err)
		}
		if u.Status == statusInvited {
			t.Errorf("status = %q after the invitation died", u.Status)
		}
		if got, err := e.store.GetUser(ctx, "acme", withPassword); err != nil || got.PasswordHash == "attacker's hash" {
			t.Errorf("the old mailbox set the password: %v", err)
		}
	})
}

// TestReviewLinkDiesWithSuspension: suspending a user must kill their
// outstanding links for good, not only while suspended; resuming them
// later must not bring back a link sent before.
func TestReviewLinkDiesWithSuspension(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		ctx := t.Context()
		viaSuspend := e.createUser("acme", `{"email": "a@acme.example", "password": "`+newPassword+`"}`)
		viaPatch := e.createUser("acme", `{"email": "b@acme.example"}`)
		links := map[string]string{}
		for id, purpose := range map[string]invite.Purpose{viaSuspend: invite.PasswordReset, viaPatch: invite.Invitation} {
			l, err := invite.Issue(ctx, e.store, "acme", id, purpose, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			links[id] = l
		}
		e.mustCall("POST", userPath("acme", viaSuspend)+"/suspend", "", http.StatusOK)
		e.mustCall("POST", userPath("acme", viaSuspend)+"/resume", "", http.StatusOK)
		e.mustCall("PATCH", userPath("acme", viaPatch), `{"active": false}`, http.StatusOK)
		e.mustCall("PATCH", userPath("acme", viaPatch), `{"active": true}`, http.StatusOK)
		for id, link := range links {
			if _, _, err := invite.Check(ctx, e.store, "acme", link); !errors.Is(err, invite.ErrInvalid) {
				t.Errorf("user %s: link sent before a suspension works after resuming: %v", id, err)
			}
		}
	})
}

// TestReviewUserSearchScanIsBounded: a filter that matches few users must
// not read the whole partner in one request; like an audit query, a search
// reads a bounded number of users and answers a short page with a cursor
// to continue, so following cursors still finds every match.
func TestReviewUserSearchScanIsBounded(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		counting := &srCountingStore{}
		e := newEnvOn(t, backend, withCounting(counting))
		e.createPartner("acme")
		const users, budget = 30, 10
		var want []string
		for i := range users {
			u := store.User{ID: fmt.Sprintf("u_%03d", i), PartnerID: "acme", Email: fmt.Sprintf("user%d@acme.example", i), Active: true, CreatedAt: t0, UpdatedAt: t0}
			if i%7 == 3 {
				u.Email = fmt.Sprintf("needle%d@acme.example", i)
				want = append(want, u.ID)
			}
			if err := e.store.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
		}
		e.h.userScanBudget = budget

		var got []string
		path := "/api/v1/partners/acme/users?email=needle"
		for pages := 0; ; pages++ {
			if pages > users {
				t.Fatal("the cursors never end")
			}
			before := counting.usersRead.Load()
			var page pageJSON[userJSON]
			if err := json.Unmarshal(e.mustCall("GET", path, "", http.StatusOK), &page); err != nil {
				t.Fatal(err)
			}
			if read := counting.usersRead.Load() - before; read > budget {
				t.Fatalf("one search read %d users, want at most %d", read, budget)
			}
			for _, u := range page.Data {
				got = append(got, u.ID)
			}
			if page.NextCursor == nil {
				break
			}
			path = "/api/v1/partners/acme/users?email=needle&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if !slices.Equal(got, want) {
			t.Errorf("search across pages = %v, want %v", got, want)
		}
	})
}

// TestReviewTokenLockoutByID: an admin token's id is no secret (any
// read-only token of the partner lists it, audit events name it), so
// failures counted against the id must not lock out the token's holder,
// who presents the right secret. Wrong guesses stay limited.
func TestReviewTokenLockoutByID(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		_, auditor := srToken(e, "acme", `{"name": "siem", "read_only": true}`)
		automationID, automation := srToken(e, "acme", `{"name": "automation"}`)

		rec := e.do(request{method: "GET", path: "/api/v1/partners/acme/admin-tokens", auth: bearer(auditor)})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), automationID) {
			t.Fatalf("the read-only token does not list the other token's id: %d %s", rec.Code, rec.Body)
		}
		guess := "pgat.acme." + automationID + "." + strings.Repeat("A", 43)
		for i := range authFailuresPerToken {
			rec := e.do(request{method: "GET", path: "/api/v1/me", auth: bearer(guess), remoteAddr: fmt.Sprintf("198.51.100.%d:1234", i+1)})
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d = %d, want 401", i+1, rec.Code)
			}
		}
		if rec := e.do(request{method: "GET", path: "/api/v1/me", auth: bearer(automation), remoteAddr: "203.0.113.5:1234"}); rec.Code != http.StatusOK {
			t.Errorf("the token's holder after others' wrong guesses = %d %s, want 200", rec.Code, rec.Body)
		}
		rec = e.do(request{method: "GET", path: "/api/v1/me", auth: bearer(guess), remoteAddr: "198.51.100.200:1234"})
		assertError(t, rec, http.StatusTooManyRequests, "rate_limited", "")
	})
}

// TestReviewRemoveMemberReadsNoMemberList: removing one member must not
// read the group's whole member list, which has no bound; the member's own
// record says whether they belong.
func TestReviewRemoveMemberReadsNoMemberList(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		counting := &srCountingStore{}
		e := newEnvOn(t, backend, withCounting(counting))
		e.createPartner("acme")
		a := e.createUser("acme", `{"email": "a@acme.example"}`)
		b := e.createUser("acme", `{"email": "b@acme.example"}`)
		outsider := e.createUser("acme", `{"email": "c@acme.example"}`)
		var g struct{ ID string }
		if err := json.Unmarshal(e.mustCall("POST", "/api/v1/partners/acme/groups", `{"name": "Eng", "members": ["`+a+`", "`+b+`"]}`, http.StatusCreated), &g); err != nil {
			t.Fatal(err)
		}
		members := "/api/v1/partners/acme/groups/" + g.ID + "/members/"

		before := counting.wholeMemberList.Load()
		e.mustCall("DELETE", members+a, "", http.StatusNoContent)
		assertError(t, e.call("DELETE", members+a, ""), http.StatusNotFound, "not_found", "")
		assertError(t, e.call("DELETE", members+outsider, ""), http.StatusNotFound, "not_found", "")
		assertError(t, e.call("DELETE", members+"u_nobody", ""), http.StatusNotFound, "not_found", "")
		if n := counting.wholeMemberList.Load() - before; n != 0 {
			t.Errorf("removing members read the whole member list %d times", n)
		}
		var page pageJSON[string]
		if err := json.Unmarshal(e.mustCall("GET", "/api/v1/partners/acme/groups/"+g.ID+"/members", "", http.StatusOK), &page); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(page.Data, []string{b}) {
			t.Errorf("members = %v, want [%s]", page.Data, b)
		}
	})
}

// srMailSink counts the mails the handler sends.
type srMailSink struct{ sent atomic.Int64 }

func (s *srMailSink) Send(context.Context, mail.Message) error {
	s.sent.Add(1)
	return nil
}

// TestReviewLinkMailsPerUserAreLimited: every invitation or reset sends a
// mail through the platform's relay to the user's address. Without a
// bound, a partner admin, or anyone holding a leaked admin token, could
// bomb one mailbox from the platform's sender and spend its reputation.
// Past the limit the request answers 429 with Retry-After and sends
// nothing; other users are unaffected.
func TestReviewLinkMailsPerUserAreLimited(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		sink := &srMailSink{}
		e := newEnvOn(t, backend, withMailer(sink))
		e.createPartner("acme")
		for i := range linkMailsPerUser {
			want := http.StatusOK
			if i == 0 {
				want = http.StatusCreated
			}
			e.mustCall("POST", "/api/v1/partners/acme/invitations", `{"email": "victim@example.com"}`, want)
		}
		rec := e.call("POST", "/api/v1/partners/acme/invitations", `{"email": "victim@example.com"}`)
		assertError(t, rec, http.StatusTooManyRequests, "rate_limited", "")
		if rec.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if got := sink.sent.Load(); got != linkMailsPerUser {
			t.Errorf("%d mails sent to one address, want %d", got, linkMailsPerUser)
		}

		// Resets count against the same user.
		id := e.createUser("acme", `{"email": "carol@example.com", "password": "`+newPassword+`"}`)
		for range linkMailsPerUser {
			e.mustCall("POST", userPath("acme", id)+"/password-reset", "", http.StatusAccepted)
		}
		assertError(t, e.call("POST", userPath("acme", id)+"/password-reset", ""), http.StatusTooManyRequests, "rate_limited", "")
		if got := sink.sent.Load(); got != 2*linkMailsPerUser {
			t.Errorf("%d mails sent, want %d", got, 2*linkMailsPerUser)
		}
		// Another user still gets theirs.
		e.mustCall("POST", "/api/v1/partners/acme/invitations", `{"email": "someone@example.com"}`, http.StatusCreated)
	})
}

// TestReviewTenantEdgeCases pins down edge cases found sound in review:
// an admin token moved to another partner's name, percent-encoded partner
// ids, and methods a write route does not have all stay inside the
// credential's partner and change nothing.
func TestReviewTenantEdgeCases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	e.createPartner("globex")
	id, tok := srToken(e, "acme", `{"name": "automation"}`)
	user := e.createUser("acme", `{"email": "a@acme.example"}`)

	e.unchanged(func() {
		// The partner segment picks the keyspace the token is looked up
		// in: acme's id and secret under globex's name match nothing.
		secret := tok[strings.LastIndexByte(tok, '.')+1:]
		for _, forged := range []string{
			"pgat.globex." + id + "." + secret,
			"pgat.ACME." + id + "." + secret,
			"pgat.acme." + id + "." + secret + ".x",
			"pgat.acme." + strings.TrimPrefix(id, "t_") + "." + secret,
			"PGAT.acme." + id + "." + secret,
		} {
			rec := e.do(request{method: "GET", path: "/api/v1/partners/globex/users", auth: bearer(forged)})
			assertError(t, rec, http.StatusUnauthorized, "unauthorized", "")
		}
		// ServeMux unescapes the partner segment before the guard compares
		// it, and the handler loads the same unescaped id.
		if rec := e.do(request{method: "GET", path: "/api/v1/partners/ac%6De/users", auth: bearer(tok)}); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), user) {
			t.Errorf("encoded own id = %d %s", rec.Code, rec.Body)
		}
		for _, p := range []string{"/api/v1/partners/gl%6Fbex/users", "/api/v1/partners/acme%2F..%2Fglobex/users", "/api/v1/partners/acme/../globex/users"} {
			rec := e.do(request{method: "GET", path: p, auth: bearer(tok)})
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s = %d %s, want 404", p, rec.Code, rec.Body)
			}
		}
		// HEAD and OPTIONS reach no write handler.
		for _, m := range []string{"HEAD", "OPTIONS"} {
			rec := e.do(request{method: m, path: "/api/v1/partners/acme/users/" + user + "/suspend", auth: bearer(tok)})
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s suspend = %d, want 405", m, rec.Code)
			}
		}
	})
}
