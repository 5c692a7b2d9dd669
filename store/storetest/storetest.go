package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

// subtest is one conformance check; it gets a store of its own.
type subtest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// RunTests runs the conformance suite against the backend newStore builds.
// Every subtest gets a fresh, empty store from newStore and closes it when it
// ends; subtests of one group run in parallel, so stores from separate calls
// must not share state (a shared server needs a key prefix or database per
// call, not a flush). RunTests returns only after every subtest has finished,
// so the caller may tear down shared fixtures right after it.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Partners", partnerTests},
		{"Users", userTests},
		{"Isolation", isolationTests},
		{"Sessions", sessionTests},
		{"Counters", counterTests},
		{"Bus", busTests},
		{"Groups", groupTests},
		{"RoleMappings", roleMappingTests},
		{"Tokens", tokenTests},
		{"Tickets", ticketTests},
		{"Audit", auditTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newStore(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("close store: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

// precision is the finest time resolution a backend must keep.
const precision = time.Millisecond

// now is the current time as the suite stores it: UTC, at the precision
// every backend keeps, so values read back compare equal.
func now() time.Time { return time.Now().UTC().Truncate(precision) }

// errFn is what update callbacks return to abort an update.
var errFn = errors.New("storetest: callback refused")

func newPartner(id string, hostnames ...string) store.Partner {
	at := now()
	return store.Partner{ID: id, Name: "Partner " + id, Hostnames: hostnames, CreatedAt: at, UpdatedAt: at}
}

func createPartner(t *testing.T, s store.Store, id string, hostnames ...string) store.Partner {
	t.Helper()
	p := newPartner(id, hostnames...)
	if err := s.CreatePartner(t.Context(), p); err != nil {
		t.Fatalf("create partner %q: %v", id, err)
	}
	return p
}

func newUser(partnerID, id, email string) store.User {
	at := now()
	return store.User{
		ID:           id,
		PartnerID:    partnerID,
		Email:        email,
		Name:         "User " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Active:       true,
		InviteID:     "invite-" + id,
		CreatedAt:    at,
		UpdatedAt:    at,
	}
}

func createUser(t *testing.T, s store.Store, partnerID, id, email string) store.User {
	t.Helper()
	u := newUser(partnerID, id, email)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create user %q in partner %q: %v", id, partnerID, err)
	}
	return u
}

// newSession returns a session live for an hour, created at createdAt.
func newSession(partnerID, userID, id string, createdAt time.Time) store.Session {
	return store.Session{
		ID:         id,
		PartnerID:  partnerID,
		UserID:     userID,
		CreatedAt:  createdAt,
		LastSeenAt: createdAt,
		ExpiresAt:  now().Add(time.Hour),
		IP:         "192.0.2.7",
		UserAgent:  "storetest/1.0 (\"quoted\"; ünïcode)",
	}
}

func createSession(t *testing.T, s store.Store, sess store.Session) store.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("create session %q: %v", sess.ID, err)
	}
	return sess
}

func normTime(tm time.Time) time.Time { return tm.Truncate(precision).UTC() }

// normPartner makes equal partners deeply equal: the contract fixes neither
// the order of hostnames nor nil versus empty.
func normPartner(p store.Partner) store.Partner {
	p.CreatedAt, p.UpdatedAt = normTime(p.CreatedAt), normTime(p.UpdatedAt)
	if len(p.Hostnames) == 0 {
		p.Hostnames = nil
	} else {
		p.Hostnames = slices.Sorted(slices.Values(p.Hostnames))
	}
	return p
}

// normUser treats no groups and an empty list alike.
func normUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = normTime(u.CreatedAt), normTime(u.UpdatedAt)
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	return u
}

func normSession(s store.Session) store.Session {
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = normTime(s.CreatedAt), normTime(s.LastSeenAt), normTime(s.ExpiresAt)
	return s
}

func checkEqual[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func checkList[T any](t *testing.T, what string, got, want []T, norm func(T) T) {
	t.Helper()
	g, w := make([]T, len(got)), make([]T, len(want))
	for i := range got {
		g[i] = norm(got[i])
	}
	for i := range want {
		w[i] = norm(want[i])
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, listString(g), listString(w))
	}
}

func listString[T any](items []T) string {
	lines := make([]string, len(items))
	for i, it := range items {
		lines[i] = fmt.Sprintf("\n   %+v", it)
	}
	return fmt.Sprintf("%d items:%s", len(items), strings.Join(lines, ""))
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func checkPartnerStored(t *testing.T, s store.Store, want store.Partner) {
	t.Helper()
	got, err := s.GetPartner(t.Context(), want.ID)
	if err != nil {
		t.Errorf("get partner %q: %v", want.ID, err)
		return
	}
	checkEqual(t, "partner "+want.ID, got, want, normPartner)
}

func checkPartnerGone(t *testing.T, s store.Store, id string) {
	t.Helper()
	_, err := s.GetPartner(t.Context(), id)
	checkErr(t, "get partner "+id, err, store.ErrNotFound)
}

// checkHostnamesTaken asserts each hostname is held, by trying to claim it.
func checkHostnamesTaken(t *testing.T, s store.Store, hostnames ...string) {
	t.Helper()
	for _, h := range hostnames {
		err := s.CreatePartner(t.Context(), newPartner("claimant", h))
		checkErr(t, "claim held hostname "+h, err, store.ErrHostnameTaken)
	}
}

// checkUserStored reads the user back by id and by email.
func checkUserStored(t *testing.T, s store.Store, want store.User) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetUser(ctx, want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get user %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "user "+want.ID, got, want, normUser)
	got, err = s.GetUserByEmail(ctx, want.PartnerID, want.Email)
	if err != nil {
		t.Errorf("get user by email %q in partner %q: %v", want.Email, want.PartnerID, err)
		return
	}
	checkEqual(t, "user by email "+want.Email, got, want, normUser)
}

func checkUserGone(t *testing.T, s store.Store, partnerID, id, email string) {
	t.Helper()
	_, err := s.GetUser(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get user %q in partner %q", id, partnerID), err, store.ErrNotFound)
	_, err = s.GetUserByEmail(t.Context(), partnerID, email)
	checkErr(t, fmt.Sprintf("get user by email %q in partner %q", email, partnerID), err, store.ErrNotFound)
}

func checkSessionStored(t *testing.T, s store.Store, want store.Session) {
	t.Helper()
	got, err := s.GetSession(t.Context(), want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get session %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "session "+want.ID, got, want, normSession)
}

func checkSessionGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetSession(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get session %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

func checkUserSessions(t *testing.T, s store.Store, partnerID, userID string, want ...store.Session) {
	t.Helper()
	got, err := s.ListUserSessions(t.Context(), partnerID, userID)
	if err != nil {
		t.Errorf("list sessions of user %q in partner %q: %v", userID, partnerID, err)
		return
	}
	checkList(t, fmt.Sprintf("sessions of user %q in partner %q", userID, partnerID), got, want, normSession)
}
