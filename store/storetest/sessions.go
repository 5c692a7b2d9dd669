package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var sessionTests = []subtest{
	{"CreateGet", testSessionCreateGet},
	{"ListOrderedByCreatedAt", testSessionListOrdered},
	{"Touch", testSessionTouch},
	{"Delete", testSessionDelete},
	{"DeleteUserSessions", testSessionDeleteUserSessions},
	{"Expiry", testSessionExpiry},
}

// checkIDs compares ids as sets: the contract does not order them.
func checkIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %q, want %q", what, g, w)
	}
}

func testSessionCreateGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	sess := createSession(t, s, newSession("acme", "u1", "Zm9vYmFyYmF6cXV4", now()))

	checkSessionStored(t, s, sess)
	checkUserSessions(t, s, "acme", "u1", sess)
	checkSessionGone(t, s, "acme", "nobody")
}

func testSessionListOrdered(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	createUser(t, s, "acme", "u2", "bob@example.com")
	createUser(t, s, "acme", "u3", "carol@example.com")
	at := now()
	// Ids run against creation order so an id-ordered list fails.
	third := createSession(t, s, newSession("acme", "u1", "a", at.Add(2*time.Minute)))
	first := createSession(t, s, newSession("acme", "u1", "c", at))
	second := createSession(t, s, newSession("acme", "u1", "b", at.Add(time.Minute)))
	other := createSession(t, s, newSession("acme", "u2", "d", at))

	checkUserSessions(t, s, "acme", "u1", first, second, third)
	checkUserSessions(t, s, "acme", "u2", other)
	checkUserSessions(t, s, "acme", "u3")
}

func testSessionTouch(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	sess := createSession(t, s, newSession("acme", "u1", "s1", now()))
	want := sess
	want.LastSeenAt = sess.LastSeenAt.Add(5 * time.Minute)

	if err := s.TouchSession(t.Context(), "acme", "s1", want.LastSeenAt); err != nil {
		t.Fatalf("touch session: %v", err)
	}
	checkSessionStored(t, s, want)
	checkUserSessions(t, s, "acme", "u1", want)

	// Touches from several nodes land out of order; an older one must not
	// make an active session look idle.
	if err := s.TouchSession(t.Context(), "acme", "s1", sess.LastSeenAt.Add(time.Minute)); err != nil {
		t.Fatalf("touch session with an older time: %v", err)
	}
	checkSessionStored(t, s, want)

	err := s.TouchSession(t.Context(), "acme", "nobody", now())
	checkErr(t, "touch missing session", err, store.ErrNotFound)
}

func testSessionDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	at := now()
	createSession(t, s, newSession("acme", "u1", "s1", at))
	kept := createSession(t, s, newSession("acme", "u1", "s2", at.Add(time.Second)))

	if err := s.DeleteSession(ctx, "acme", "s1"); err != nil {
		t.Fatalf("delete session: %v", err)
	}
	checkSessionGone(t, s, "acme", "s1")
	checkSessionStored(t, s, kept)
	checkUserSessions(t, s, "acme", "u1", kept)
	checkErr(t, "delete deleted session", s.DeleteSession(ctx, "acme", "s1"), store.ErrNotFound)
}

func testSessionDeleteUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	alice := createUser(t, s, "acme", "u1", "alice@example.com")
	createUser(t, s, "acme", "u2", "bob@example.com")
	at := now()
	for i, id := range []string{"s1", "s2", "s3"} {
		createSession(t, s, newSession("acme", "u1", id, at.Add(time.Duration(i)*time.Second)))
	}
	kept := createSession(t, s, newSession("acme", "u2", "s4", at))

	ids, err := s.DeleteUserSessions(ctx, "acme", "u1")
	if err != nil {
		t.Fatalf("delete user sessions: %v", err)
	}
	checkIDs(t, "deleted sessions", ids, "s1", "s2", "s3")
	for _, id := range []string{"s1", "s2", "s3"} {
		checkSessionGone(t, s, "acme", id)
	}
	checkUserSessions(t, s, "acme", "u1")
	checkSessionStored(t, s, kept)
	checkUserStored(t, s, alice)

	ids, err = s.DeleteUserSessions(ctx, "acme", "u1")
	if err != nil {
		t.Fatalf("delete sessions of a user without sessions: %v", err)
	}
	checkIDs(t, "deleted sessions of a user without sessions", ids)
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	at := now()
	short := newSession("acme", "u1", "short", at)
	short.ExpiresAt = at.Add(time.Second)
	createSession(t, s, short)
	long := createSession(t, s, newSession("acme", "u1", "long", at.Add(time.Millisecond)))

	// On a loaded machine these reads may land after short expired; only
	// answers given before that prove anything.
	got, err := s.GetSession(ctx, "acme", "short")
	if time.Now().Before(short.ExpiresAt) {
		if err != nil {
			t.Errorf("get session before it expired: %v", err)
		} else {
			checkEqual(t, "session before it expired", got, short, normSession)
		}
	}
	list, err := s.ListUserSessions(ctx, "acme", "u1")
	if err != nil {
		t.Fatalf("list user sessions: %v", err)
	}
	if time.Now().Before(short.ExpiresAt) {
		checkList(t, "sessions before one expired", list, []store.Session{short, long}, normSession)
	}

	time.Sleep(time.Until(short.ExpiresAt) + 250*time.Millisecond)
	checkSessionGone(t, s, "acme", "short")
	checkUserSessions(t, s, "acme", "u1", long)
	err = s.TouchSession(ctx, "acme", "short", now())
	checkErr(t, "touch expired session", err, store.ErrNotFound)
	checkSessionStored(t, s, long)
}
