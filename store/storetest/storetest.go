package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
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
		{"SSOConnections", ssoConnectionTests},
		{"Tokens", tokenTests},
		{"Tickets", ticketTests},
		{"Audit", auditTests},
		{"RequestLog", requestLogTests},
		{"SSOFailures", ssoFailureTests},
		{"Policies", policyTests},
		{"MFAMethods", mfaTests},
		{"Brandings", brandingTests},
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

// rendezvous returns a function that holds each of n callers until all
// have called it. Called from update callbacks, it lines racing updates up
// between their reads and their writes, where a backend that checks a
// uniqueness rule outside its transaction lets two through. A backend
// that runs the callbacks one at a time never gets them all in: the first
// caller gives up after a moment, and the rest no longer wait.
func rendezvous(n int) func() {
	var (
		mu      sync.Mutex
		arrived int
		once    sync.Once
	)
	all, gaveUp := make(chan struct{}), make(chan struct{})
	return func() {
		mu.Lock()
		// A retried callback calls again: only the n-th call closes.
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-gaveUp:
		case <-time.After(100 * time.Millisecond):
			once.Do(func() { close(gaveUp) })
		}
	}
}

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

// newUser returns a provisioned user: it has a user name, an external id,
// an alt email and a profile, so every test exercises their indexes.
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
		UserName:     "Login." + id,
		ExternalID:   "scim-" + id,
		AltEmails:    []string{id + ".alt@example.org"},
		Profile:      json.RawMessage(`{"name":{"givenName":"Zoë","familyName":"` + id + `"},"title":"R&D <lead>"}`),
		CreatedAt:    at,
		UpdatedAt:    at,
	}
}

// bareUser returns a user nobody provisioned: no user name, external id,
// alt emails or profile.
func bareUser(partnerID, id, email string) store.User {
	u := newUser(partnerID, id, email)
	u.UserName, u.ExternalID, u.AltEmails, u.Profile = "", "", nil, nil
	return u
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

// normUser treats no groups and an empty list alike, and so for alt
// emails; profiles it compares as JSON values.
func normUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = normTime(u.CreatedAt), normTime(u.UpdatedAt)
	u.PasswordChangedAt = normTime(u.PasswordChangedAt)
	if len(u.PasswordHistory) == 0 {
		u.PasswordHistory = nil
	}
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	if len(u.AltEmails) == 0 {
		u.AltEmails = nil
	}
	u.Profile = normProfile(u.Profile)
	return u
}

// normProfile makes equal profiles deeply equal. The contract keeps a
// profile's JSON value, not its spelling: a backend may drop insignificant
// space or escape characters differently. No profile, an empty one and
// null all mean none.
func normProfile(p json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return p // let the comparison show it
	}
	if v == nil {
		return nil
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return p
	}
	return canon
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

// checkUserStored reads the user back by id and through every index that
// must find it: by email, user name and external id, and among the users
// FindUsersByEmail finds by its email and by each alt email. It looks up
// by user name and emails in upper case: they are matched
// case-insensitively.
func checkUserStored(t *testing.T, s store.Store, want store.User) {
	t.Helper()
	ctx := t.Context()
	check := func(how string, got store.User, err error) {
		t.Helper()
		what := fmt.Sprintf("user %q in partner %q %s", want.ID, want.PartnerID, how)
		if err != nil {
			t.Errorf("get %s: %v", what, err)
			return
		}
		checkEqual(t, what, got, want, normUser)
	}
	got, err := s.GetUser(ctx, want.PartnerID, want.ID)
	check("by id", got, err)
	got, err = s.GetUserByEmail(ctx, want.PartnerID, want.Email)
	check("by email "+want.Email, got, err)
	if want.UserName != "" {
		name := strings.ToUpper(want.UserName)
		got, err = s.GetUserByUserName(ctx, want.PartnerID, name)
		check("by user name "+name, got, err)
	}
	if want.ExternalID != "" {
		got, err = s.GetUserByExternalID(ctx, want.PartnerID, want.ExternalID)
		check("by external id "+want.ExternalID, got, err)
	}
	for _, email := range append([]string{want.Email}, want.AltEmails...) {
		if email == "" {
			continue // "" is no address: the contract leaves open whom it finds
		}
		email = strings.ToUpper(email)
		found, err := s.FindUsersByEmail(ctx, want.PartnerID, email)
		if err != nil {
			t.Errorf("find users by email %q in partner %q: %v", email, want.PartnerID, err)
			continue
		}
		i := slices.IndexFunc(found, func(u store.User) bool { return u.ID == want.ID })
		if i < 0 {
			t.Errorf("user %q in partner %q missing from the users found by email %q: %s",
				want.ID, want.PartnerID, email, listString(found))
			continue
		}
		check("among the users found by email "+email, found[i], nil)
	}
}

func checkUserGone(t *testing.T, s store.Store, partnerID, id, email string) {
	t.Helper()
	_, err := s.GetUser(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get user %q in partner %q", id, partnerID), err, store.ErrNotFound)
	_, err = s.GetUserByEmail(t.Context(), partnerID, email)
	checkErr(t, fmt.Sprintf("get user by email %q in partner %q", email, partnerID), err, store.ErrNotFound)
}

// checkByUserName checks which user GetUserByUserName finds: wantID, or
// none for "".
func checkByUserName(t *testing.T, s store.Store, partnerID, userName, wantID string) {
	t.Helper()
	u, err := s.GetUserByUserName(t.Context(), partnerID, userName)
	checkFoundID(t, fmt.Sprintf("user by user name %q in partner %q", userName, partnerID), u.ID, err, wantID)
}

// checkByExternalID checks which user GetUserByExternalID finds: wantID,
// or none for "".
func checkByExternalID(t *testing.T, s store.Store, partnerID, externalID, wantID string) {
	t.Helper()
	u, err := s.GetUserByExternalID(t.Context(), partnerID, externalID)
	checkFoundID(t, fmt.Sprintf("user by external id %q in partner %q", externalID, partnerID), u.ID, err, wantID)
}

// checkFoundID checks the outcome of a lookup that found the record id, or
// failed with err: it must have found wantID, or nothing for "".
func checkFoundID(t *testing.T, what, id string, err error, wantID string) {
	t.Helper()
	switch {
	case wantID == "":
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get %s: got %q, error %v; want %v", what, id, err, store.ErrNotFound)
		}
	case err != nil:
		t.Errorf("get %s: %v", what, err)
	case id != wantID:
		t.Errorf("get %s: got %q, want %q", what, id, wantID)
	}
}

// checkByEmail checks that FindUsersByEmail finds exactly the users
// wantIDs, in that order.
func checkByEmail(t *testing.T, s store.Store, partnerID, email string, wantIDs ...string) {
	t.Helper()
	found, err := s.FindUsersByEmail(t.Context(), partnerID, email)
	if err != nil {
		t.Errorf("find users by email %q in partner %q: %v", email, partnerID, err)
		return
	}
	ids := make([]string, len(found))
	for i, u := range found {
		ids[i] = u.ID
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("users found by email %q in partner %q: got %q, want %q", email, partnerID, ids, wantIDs)
	}
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
