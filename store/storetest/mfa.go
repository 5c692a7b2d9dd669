package storetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var mfaTests = []subtest{
	{"AddGetList", testMFAAddGetList},
	{"Millisecond", testMFAMillisecond},
	{"AddNeedsUser", testMFAAddNeedsUser},
	{"AddDuplicate", testMFAAddDuplicate},
	{"AddIfNone", testMFAAddIfNone},
	{"AddIfNoneRace", testMFAAddIfNoneRace},
	{"CredentialPerPartner", testMFACredentialPerPartner},
	{"FindByCredential", testMFAFindByCredential},
	{"Update", testMFAUpdate},
	{"UpdateAtomic", testMFAUpdateAtomic},
	{"UpdateIdentity", testMFAUpdateIdentity},
	{"UpdateCallbackError", testMFAUpdateCallbackError},
	{"Delete", testMFADelete},
	{"Isolation", testMFAIsolation},
	{"DeleteUser", testMFADeleteUser},
	{"DeleteUserRace", testMFADeleteUserRace},
	{"DeletePartner", testMFADeletePartner},
}

// newMFAMethod returns a method of kind; a WebAuthn one gets credential
// id "cred-<id>". Its secret holds every byte value, so a backend that
// stores it as text, not bytes, fails.
func newMFAMethod(partnerID, userID, id string, kind store.MFAKind) store.MFAMethod {
	secret := make([]byte, 256)
	for i := range secret {
		secret[i] = byte(i)
	}
	m := store.MFAMethod{
		ID:        id,
		PartnerID: partnerID,
		UserID:    userID,
		Kind:      kind,
		Name:      "Method " + id + " (ünïcode, \"quoted\")",
		Secret:    append([]byte(id+":"), secret...),
		CreatedAt: now(),
	}
	if kind == store.MFAWebAuthn {
		m.CredentialID = "cred-" + id
		m.LastUsedAt = now()
	}
	return m
}

func addMFAMethod(t *testing.T, s store.Store, m store.MFAMethod) store.MFAMethod {
	t.Helper()
	if err := s.AddMFAMethod(t.Context(), m); err != nil {
		t.Fatalf("add mfa method %q of user %q in partner %q: %v", m.ID, m.UserID, m.PartnerID, err)
	}
	return m
}

// normMFAMethod treats no secret and an empty one alike.
func normMFAMethod(m store.MFAMethod) store.MFAMethod {
	m.CreatedAt, m.LastUsedAt = normTime(m.CreatedAt), normTime(m.LastUsedAt)
	if len(m.Secret) == 0 {
		m.Secret = nil
	}
	return m
}

func mfaWhat(partnerID, userID, id string) string {
	return fmt.Sprintf("mfa method %q of user %q in partner %q", id, userID, partnerID)
}

func checkMFAStored(t *testing.T, s store.Store, want store.MFAMethod) {
	t.Helper()
	what := mfaWhat(want.PartnerID, want.UserID, want.ID)
	got, err := s.GetMFAMethod(t.Context(), want.PartnerID, want.UserID, want.ID)
	if err != nil {
		t.Errorf("get %s: %v", what, err)
		return
	}
	checkEqual(t, what, got, want, normMFAMethod)
	if want.CredentialID != "" {
		checkByCredential(t, s, want.PartnerID, want.CredentialID, want.UserID, want.ID)
	}
}

func checkMFAGone(t *testing.T, s store.Store, partnerID, userID, id string) {
	t.Helper()
	_, err := s.GetMFAMethod(t.Context(), partnerID, userID, id)
	checkErr(t, "get "+mfaWhat(partnerID, userID, id), err, store.ErrNotFound)
}

func checkMFAList(t *testing.T, s store.Store, partnerID, userID string, want ...store.MFAMethod) {
	t.Helper()
	got, err := s.ListMFAMethods(t.Context(), partnerID, userID)
	if err != nil {
		t.Errorf("list mfa methods of user %q in partner %q: %v", userID, partnerID, err)
		return
	}
	checkList(t, fmt.Sprintf("mfa methods of user %q in partner %q", userID, partnerID), got, want, normMFAMethod)
}

// checkByCredential checks which method FindMFAMethodByCredential finds:
// wantID of user wantUser, or none for "".
func checkByCredential(t *testing.T, s store.Store, partnerID, credentialID, wantUser, wantID string) {
	t.Helper()
	m, err := s.FindMFAMethodByCredential(t.Context(), partnerID, credentialID)
	what := fmt.Sprintf("mfa method by credential %q in partner %q", credentialID, partnerID)
	checkFoundID(t, what, m.ID, err, wantID)
	if err == nil && wantID != "" && (m.UserID != wantUser || m.PartnerID != partnerID || m.CredentialID != credentialID) {
		t.Errorf("get %s: got user %q, partner %q, credential %q; want user %q", what, m.UserID, m.PartnerID, m.CredentialID, wantUser)
	}
}

func testMFAAddGetList(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	// Ids run against creation order so a creation-ordered list fails.
	m3 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m3", store.MFAWebAuthn))
	m1 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFATOTP))
	m2 := newMFAMethod("acme", "u1", "m2", store.MFARecovery)
	m2.Secret = nil
	addMFAMethod(t, s, m2)
	m10 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m10", store.MFASMS))
	p := addMFAMethod(t, s, newMFAMethod("acme", "u2", "p1", store.MFAPush))

	for _, m := range []store.MFAMethod{m1, m2, m3, m10, p} {
		checkMFAStored(t, s, m)
	}
	// Byte order: "m10" sorts before "m2".
	checkMFAList(t, s, "acme", "u1", m1, m10, m2, m3)
	checkMFAList(t, s, "acme", "u2", p)
	checkMFAList(t, s, "acme", "nobody")
	checkMFAList(t, s, "nowhere", "u1")
	checkMFAGone(t, s, "acme", "u1", "nothing")

	// The secret comes back byte for byte.
	got, err := s.GetMFAMethod(t.Context(), "acme", "u1", "m3")
	if err != nil {
		t.Fatalf("get m3: %v", err)
	}
	if string(got.Secret) != string(m3.Secret) {
		t.Errorf("secret of m3: got %x, want %x", got.Secret, m3.Secret)
	}
}

// testMFAMillisecond checks times come back as the same instant to the
// millisecond, in UTC, from add and from update.
func testMFAMillisecond(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	zone := time.FixedZone("UTC+5", 5*3600)
	at := time.Now().In(zone).Truncate(time.Second).Add(123456789 * time.Nanosecond)
	m := newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn)
	m.CreatedAt, m.LastUsedAt = at, at.Add(time.Millisecond)
	addMFAMethod(t, s, m)
	check := func(how string, got store.MFAMethod, wantCreated, wantUsed time.Time) {
		t.Helper()
		for _, c := range []struct {
			name      string
			got, want time.Time
		}{{"created", got.CreatedAt, wantCreated}, {"last used", got.LastUsedAt, wantUsed}} {
			if !c.got.Equal(c.want.Truncate(time.Millisecond)) {
				t.Errorf("%s: %s at %v, want %v", how, c.name, c.got, c.want.Truncate(time.Millisecond))
			}
			if ns := c.got.Nanosecond(); ns%int(time.Millisecond) != 0 {
				t.Errorf("%s: %s at %v keeps more than milliseconds", how, c.name, c.got)
			}
			if c.got.Location() != time.UTC {
				t.Errorf("%s: %s at %v is not UTC", how, c.name, c.got)
			}
		}
	}
	got, err := s.GetMFAMethod(t.Context(), "acme", "u1", "m1")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	check("after add", got, m.CreatedAt, m.LastUsedAt)

	used := at.Add(time.Hour + 987654321*time.Nanosecond)
	upd, err := s.UpdateMFAMethod(t.Context(), "acme", "u1", "m1", func(m store.MFAMethod) (store.MFAMethod, error) {
		m.LastUsedAt = used
		return m, nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	check("returned by update", upd, m.CreatedAt, used)
	got, err = s.GetMFAMethod(t.Context(), "acme", "u1", "m1")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	check("after update", got, m.CreatedAt, used)
}

func testMFAAddNeedsUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")

	err := s.AddMFAMethod(ctx, newMFAMethod("acme", "ghost", "m1", store.MFAWebAuthn))
	checkErr(t, "add mfa method for an unknown user", err, store.ErrNotFound)
	err = s.AddMFAMethod(ctx, newMFAMethod("nowhere", "u1", "m2", store.MFAWebAuthn))
	checkErr(t, "add mfa method in an unknown partner", err, store.ErrNotFound)
	checkMFAList(t, s, "acme", "ghost")
	checkMFAList(t, s, "nowhere", "u1")
	checkMFAGone(t, s, "acme", "ghost", "m1")
	checkByCredential(t, s, "acme", "cred-m1", "", "")

	// Nothing was claimed: the id and credential id are free.
	m := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	checkMFAStored(t, s, m)
	checkMFAList(t, s, "acme", "u1", m)
}

func testMFAAddDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	m1 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))

	// The same id, for the same user or another in the partner, with a
	// fresh credential id that must not be claimed.
	for _, uid := range []string{"u1", "u2"} {
		dup := newMFAMethod("acme", uid, "m1", store.MFAWebAuthn)
		dup.Name, dup.CredentialID = "Impostor", "cred-dup-"+uid
		err := s.AddMFAMethod(ctx, dup)
		checkErr(t, "add mfa method with a taken id for user "+uid, err, store.ErrAlreadyExists)
		checkByCredential(t, s, "acme", dup.CredentialID, "", "")
	}
	// A taken credential id, for the same user and another, under a new id.
	for _, uid := range []string{"u1", "u2"} {
		dup := newMFAMethod("acme", uid, "m2-"+uid, store.MFAWebAuthn)
		dup.CredentialID = m1.CredentialID
		err := s.AddMFAMethod(ctx, dup)
		checkErr(t, "add mfa method with a taken credential id for user "+uid, err, store.ErrAlreadyExists)
		checkMFAGone(t, s, "acme", uid, dup.ID)
	}
	checkMFAStored(t, s, m1)
	checkMFAList(t, s, "acme", "u1", m1)
	checkMFAList(t, s, "acme", "u2")

	// The ids the failed adds tried stay free.
	for _, uid := range []string{"u1", "u2"} {
		m := newMFAMethod("acme", uid, "m2-"+uid, store.MFAWebAuthn)
		m.CredentialID = "cred-dup-" + uid
		addMFAMethod(t, s, m)
		checkMFAStored(t, s, m)
	}
	// Methods of other kinds have no credential id and never clash on it.
	addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))
	addMFAMethod(t, s, newMFAMethod("acme", "u2", "t2", store.MFATOTP))
	checkByCredential(t, s, "acme", "", "", "")
}

// enrolKinds are the kinds AddMFAMethodIfNone is given below: those a
// policy might allow, recovery codes aside.
var enrolKinds = []store.MFAKind{store.MFAWebAuthn, store.MFATOTP}

func testMFAAddIfNone(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	createUser(t, s, "acme", "u3", "u3@acme.com")

	// None yet: added, with its credential id indexed. Another user's
	// method of those kinds does not count.
	addMFAMethod(t, s, newMFAMethod("acme", "u2", "t2", store.MFATOTP))
	first := newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn)
	if err := s.AddMFAMethodIfNone(ctx, first, enrolKinds); err != nil {
		t.Fatalf("add the first method: %v", err)
	}
	checkMFAStored(t, s, first)
	checkByCredential(t, s, "acme", first.CredentialID, "u1", "k1")

	// One of those kinds now: refused, whatever the new one's kind, and
	// nothing of it stored, its id and credential id left free.
	for _, kind := range []store.MFAKind{store.MFAWebAuthn, store.MFATOTP, store.MFASMS} {
		m := newMFAMethod("acme", "u1", "x-"+string(kind), kind)
		err := s.AddMFAMethodIfNone(ctx, m, enrolKinds)
		checkErr(t, "add a "+string(kind)+" method beside a security key", err, store.ErrMFAEnrolled)
		checkMFAGone(t, s, "acme", "u1", m.ID)
	}
	checkMFAList(t, s, "acme", "u1", first)
	checkByCredential(t, s, "acme", "cred-x-webauthn", "", "")
	addMFAMethod(t, s, newMFAMethod("acme", "u2", "x-webauthn", store.MFAWebAuthn))
	checkByCredential(t, s, "acme", "cred-x-webauthn", "u2", "x-webauthn")

	// Only other kinds: added.
	rec := addMFAMethod(t, s, newMFAMethod("acme", "u3", "r3", store.MFARecovery))
	sms := addMFAMethod(t, s, newMFAMethod("acme", "u3", "s3", store.MFASMS))
	totp := newMFAMethod("acme", "u3", "t3", store.MFATOTP)
	if err := s.AddMFAMethodIfNone(ctx, totp, enrolKinds); err != nil {
		t.Fatalf("add beside recovery codes and a phone: %v", err)
	}
	checkMFAList(t, s, "acme", "u3", rec, sms, totp)

	// No kinds: nothing counts.
	push := newMFAMethod("acme", "u3", "p3", store.MFAPush)
	if err := s.AddMFAMethodIfNone(ctx, push, nil); err != nil {
		t.Fatalf("add with no kinds: %v", err)
	}
	checkMFAStored(t, s, push)

	// AddMFAMethod's refusals stand.
	err := s.AddMFAMethodIfNone(ctx, newMFAMethod("acme", "ghost", "g1", store.MFATOTP), enrolKinds)
	checkErr(t, "add for a missing user", err, store.ErrNotFound)
	createUser(t, s, "acme", "u4", "u4@acme.com")
	err = s.AddMFAMethodIfNone(ctx, newMFAMethod("acme", "u4", "k1", store.MFATOTP), enrolKinds)
	checkErr(t, "add a taken id", err, store.ErrAlreadyExists)
	dup := newMFAMethod("acme", "u4", "k4", store.MFAWebAuthn)
	dup.CredentialID = first.CredentialID
	err = s.AddMFAMethodIfNone(ctx, dup, enrolKinds)
	checkErr(t, "add a taken credential id", err, store.ErrAlreadyExists)
	checkMFAList(t, s, "acme", "u4")
}

// testMFAAddIfNoneRace races first enrolments of one user, of both kinds
// counted: exactly one may land, and the others leave no trace.
func testMFAAddIfNoneRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	for round := range 3 {
		user := fmt.Sprintf("u%d", round)
		createUser(t, s, "acme", user, user+"@acme.com")
		// Recovery codes, which do not count, are there already; their
		// id sorts after the racers'.
		rec := addMFAMethod(t, s, newMFAMethod("acme", user, "x-rec-"+user, store.MFARecovery))
		const n = 20
		methods := make([]store.MFAMethod, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			kind := store.MFAWebAuthn
			if i%2 == 1 {
				kind = store.MFATOTP
			}
			methods[i] = newMFAMethod("acme", user, fmt.Sprintf("r%d-%02d", round, i), kind)
			wg.Go(func() { errs[i] = s.AddMFAMethodIfNone(ctx, methods[i], enrolKinds) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("round %d: both %s and %s were added", round, methods[winner].ID, methods[i].ID)
			case !errors.Is(err, store.ErrMFAEnrolled):
				t.Errorf("round %d: add %s: %v", round, methods[i].ID, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: none was added: %v", round, errs)
		}
		checkMFAList(t, s, "acme", user, methods[winner], rec)
		for i, m := range methods {
			if m.CredentialID != "" && i != winner {
				checkByCredential(t, s, "acme", m.CredentialID, "", "")
			}
		}
		if m := methods[winner]; m.CredentialID != "" {
			checkByCredential(t, s, "acme", m.CredentialID, user, m.ID)
		}
	}
}

func testMFACredentialPerPartner(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "globex", "u1", "u1@globex.com")
	a := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	g := newMFAMethod("globex", "u1", "m1", store.MFAWebAuthn)
	g.Name = "Globex key"
	addMFAMethod(t, s, g)
	checkMFAStored(t, s, a)
	checkMFAStored(t, s, g)

	if err := s.DeleteMFAMethod(t.Context(), "acme", "u1", "m1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	checkByCredential(t, s, "acme", a.CredentialID, "", "")
	checkMFAStored(t, s, g)
}

func testMFAFindByCredential(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	k1 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn))
	k2 := addMFAMethod(t, s, newMFAMethod("acme", "u2", "k2", store.MFAWebAuthn))
	addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))

	checkByCredential(t, s, "acme", k1.CredentialID, "u1", "k1")
	checkByCredential(t, s, "acme", k2.CredentialID, "u2", "k2")
	// Credential ids are compared exactly.
	checkByCredential(t, s, "acme", "CRED-K1", "", "")
	checkByCredential(t, s, "acme", "unknown", "", "")
	checkByCredential(t, s, "nowhere", k1.CredentialID, "", "")
	found, err := s.FindMFAMethodByCredential(ctx, "acme", k1.CredentialID)
	if err != nil {
		t.Fatalf("find k1: %v", err)
	}
	checkEqual(t, "method found by credential", found, k1, normMFAMethod)

	if err := s.DeleteMFAMethod(ctx, "acme", "u1", "k1"); err != nil {
		t.Fatalf("delete k1: %v", err)
	}
	checkByCredential(t, s, "acme", k1.CredentialID, "", "")
	checkByCredential(t, s, "acme", k2.CredentialID, "u2", "k2")
	// The credential id is free again, for anyone in the partner.
	again := newMFAMethod("acme", "u2", "k3", store.MFAWebAuthn)
	again.CredentialID = k1.CredentialID
	addMFAMethod(t, s, again)
	checkByCredential(t, s, "acme", k1.CredentialID, "u2", "k3")
}

func testMFAUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	m := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	other := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m2", store.MFATOTP))

	want := m
	want.Name = "Renamed"
	want.Secret = []byte{0, 1, 2, 0xfe, 0xff}
	want.LastUsedAt = now().Add(time.Minute)
	got, err := s.UpdateMFAMethod(t.Context(), "acme", "u1", "m1", func(cur store.MFAMethod) (store.MFAMethod, error) {
		checkEqual(t, "method passed to the update", cur, m, normMFAMethod)
		cur.Name, cur.Secret, cur.LastUsedAt = want.Name, want.Secret, want.LastUsedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	checkEqual(t, "updated method", got, want, normMFAMethod)
	checkMFAStored(t, s, want)
	checkMFAStored(t, s, other)
	checkMFAList(t, s, "acme", "u1", want, other)

	_, err = s.UpdateMFAMethod(t.Context(), "acme", "u1", "ghost", func(cur store.MFAMethod) (store.MFAMethod, error) {
		t.Error("callback ran for a missing method")
		return cur, nil
	})
	checkErr(t, "update missing method", err, store.ErrNotFound)
}

// testMFAUpdateAtomic runs updates that each increment a counter kept in
// the secret: a lost update shows as a short total.
func testMFAUpdateAtomic(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	m := newMFAMethod("acme", "u1", "m1", store.MFATOTP)
	m.Secret = binary.BigEndian.AppendUint64(nil, 0)
	addMFAMethod(t, s, m)

	const workers, each = 16, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateMFAMethod(t.Context(), "acme", "u1", "m1", func(cur store.MFAMethod) (store.MFAMethod, error) {
					if len(cur.Secret) != 8 {
						return cur, fmt.Errorf("secret %x is no counter", cur.Secret)
					}
					n := binary.BigEndian.Uint64(cur.Secret)
					cur.Secret = binary.BigEndian.AppendUint64(nil, n+1)
					return cur, nil
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.GetMFAMethod(t.Context(), "acme", "u1", "m1")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(got.Secret) != 8 {
		t.Fatalf("secret %x is no counter", got.Secret)
	}
	if n := binary.BigEndian.Uint64(got.Secret); n != workers*each {
		t.Errorf("counter after %d increments: %d", workers*each, n)
	}
}

func testMFAUpdateIdentity(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	createUser(t, s, "globex", "u1", "u1@globex.com")
	m := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	totp := addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))

	for _, tc := range []struct {
		name   string
		id     string
		change func(*store.MFAMethod)
	}{
		{"id", "m1", func(m *store.MFAMethod) { m.ID = "m9" }},
		{"partner", "m1", func(m *store.MFAMethod) { m.PartnerID = "globex" }},
		{"user", "m1", func(m *store.MFAMethod) { m.UserID = "u2" }},
		{"kind", "m1", func(m *store.MFAMethod) { m.Kind = store.MFATOTP }},
		{"credential id", "m1", func(m *store.MFAMethod) { m.CredentialID = "cred-other" }},
		{"credential id removed", "m1", func(m *store.MFAMethod) { m.CredentialID = "" }},
		{"credential id added", "t1", func(m *store.MFAMethod) { m.CredentialID = "cred-new" }},
	} {
		_, err := s.UpdateMFAMethod(t.Context(), "acme", "u1", tc.id, func(cur store.MFAMethod) (store.MFAMethod, error) {
			cur.Name = "Changed"
			tc.change(&cur)
			return cur, nil
		})
		if err == nil {
			t.Errorf("update changing the %s succeeded", tc.name)
		}
	}
	checkMFAStored(t, s, m)
	checkMFAStored(t, s, totp)
	checkMFAList(t, s, "acme", "u1", m, totp)
	checkMFAList(t, s, "acme", "u2")
	checkMFAList(t, s, "globex", "u1")
	checkMFAGone(t, s, "acme", "u1", "m9")
	checkByCredential(t, s, "acme", "cred-other", "", "")
	checkByCredential(t, s, "acme", "cred-new", "", "")
}

func testMFAUpdateCallbackError(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	m := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFATOTP))
	_, err := s.UpdateMFAMethod(t.Context(), "acme", "u1", "m1", func(cur store.MFAMethod) (store.MFAMethod, error) {
		cur.Name = "Changed"
		return cur, errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("update with a failing callback: got %v, want %v", err, errFn)
	}
	checkMFAStored(t, s, m)
}

func testMFADelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	m1 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	m2 := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m2", store.MFAWebAuthn))

	if err := s.DeleteMFAMethod(ctx, "acme", "u1", "m1"); err != nil {
		t.Fatalf("delete m1: %v", err)
	}
	checkMFAGone(t, s, "acme", "u1", "m1")
	checkByCredential(t, s, "acme", m1.CredentialID, "", "")
	checkMFAStored(t, s, m2)
	checkMFAList(t, s, "acme", "u1", m2)
	err := s.DeleteMFAMethod(ctx, "acme", "u1", "m1")
	checkErr(t, "delete deleted method", err, store.ErrNotFound)

	if err := s.DeleteMFAMethod(ctx, "acme", "u1", "m2"); err != nil {
		t.Fatalf("delete m2: %v", err)
	}
	checkMFAList(t, s, "acme", "u1")
	// The id is free again.
	again := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))
	checkMFAStored(t, s, again)
}

// testMFAIsolation checks a method answers only to its own partner and
// user: asked through another, it is not found, and the failed update or
// delete leaves it alone.
func testMFAIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	createUser(t, s, "globex", "u1", "u1@globex.com")
	m := addMFAMethod(t, s, newMFAMethod("acme", "u1", "m1", store.MFAWebAuthn))

	for _, scope := range []struct{ partnerID, userID string }{
		{"acme", "u2"}, {"globex", "u1"}, {"acme", "ghost"}, {"nowhere", "u1"},
	} {
		what := mfaWhat(scope.partnerID, scope.userID, "m1")
		_, err := s.GetMFAMethod(ctx, scope.partnerID, scope.userID, "m1")
		checkErr(t, "get "+what, err, store.ErrNotFound)
		_, err = s.UpdateMFAMethod(ctx, scope.partnerID, scope.userID, "m1", func(cur store.MFAMethod) (store.MFAMethod, error) {
			t.Errorf("update %s: callback ran", what)
			cur.Name = "Hijacked"
			return cur, nil
		})
		checkErr(t, "update "+what, err, store.ErrNotFound)
		err = s.DeleteMFAMethod(ctx, scope.partnerID, scope.userID, "m1")
		checkErr(t, "delete "+what, err, store.ErrNotFound)
		checkMFAList(t, s, scope.partnerID, scope.userID)
	}
	checkByCredential(t, s, "globex", m.CredentialID, "", "")
	checkMFAStored(t, s, m)
}

func testMFADeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "acme", "u2", "u2@acme.com")
	k := addMFAMethod(t, s, newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn))
	addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))
	keep := addMFAMethod(t, s, newMFAMethod("acme", "u2", "k2", store.MFAWebAuthn))

	if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	checkMFAList(t, s, "acme", "u1")
	checkMFAGone(t, s, "acme", "u1", "k1")
	checkByCredential(t, s, "acme", k.CredentialID, "", "")
	checkMFAStored(t, s, keep)
	err := s.AddMFAMethod(ctx, newMFAMethod("acme", "u1", "k9", store.MFAWebAuthn))
	checkErr(t, "add mfa method for a deleted user", err, store.ErrNotFound)

	// A user recreated under the same id starts with none, and the ids
	// and credential id are free again.
	createUser(t, s, "acme", "u1", "u1@acme.com")
	checkMFAList(t, s, "acme", "u1")
	checkMFAGone(t, s, "acme", "u1", "t1")
	again := addMFAMethod(t, s, newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn))
	addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))
	checkMFAStored(t, s, again)
	// Another user can take the freed credential id too.
	other := newMFAMethod("acme", "u2", "k3", store.MFAWebAuthn)
	other.CredentialID = "cred-freed"
	addMFAMethod(t, s, other)
	if err := s.DeleteUser(ctx, "acme", "u2"); err != nil {
		t.Fatalf("delete user u2: %v", err)
	}
	checkByCredential(t, s, "acme", keep.CredentialID, "", "")
	checkByCredential(t, s, "acme", "cred-freed", "", "")
	checkMFAStored(t, s, again)
}

// testMFADeleteUserRace races methods being added against their user's
// deletion: none may outlive it.
func testMFADeleteUserRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	for round := range 10 {
		createUser(t, s, "acme", "u1", "u1@acme.com")
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				m := newMFAMethod("acme", "u1", fmt.Sprintf("r%d-%d", round, i), store.MFAWebAuthn)
				err := s.AddMFAMethod(ctx, m)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("add %s: %v", m.ID, err)
				}
			})
		}
		wg.Go(func() {
			if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
				t.Errorf("delete user: %v", err)
			}
		})
		wg.Wait()
		checkMFAList(t, s, "acme", "u1")
		for i := range 4 {
			checkByCredential(t, s, "acme", fmt.Sprintf("cred-r%d-%d", round, i), "", "")
		}
	}
}

func testMFADeletePartner(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	createUser(t, s, "globex", "u1", "u1@globex.com")
	k := addMFAMethod(t, s, newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn))
	addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))
	keep := addMFAMethod(t, s, newMFAMethod("globex", "u1", "k1", store.MFAWebAuthn))

	if err := s.DeletePartner(ctx, "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkMFAList(t, s, "acme", "u1")
	checkMFAGone(t, s, "acme", "u1", "k1")
	checkByCredential(t, s, "acme", k.CredentialID, "", "")
	checkMFAStored(t, s, keep)

	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "u1@acme.com")
	checkMFAList(t, s, "acme", "u1")
	checkByCredential(t, s, "acme", k.CredentialID, "", "")
	again := addMFAMethod(t, s, newMFAMethod("acme", "u1", "k1", store.MFAWebAuthn))
	totp := addMFAMethod(t, s, newMFAMethod("acme", "u1", "t1", store.MFATOTP))
	checkMFAStored(t, s, again)
	checkMFAList(t, s, "acme", "u1", again, totp)
}
