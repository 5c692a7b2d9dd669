package account

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/teststore"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/store"
)

// t0 is the clock of every sign-in.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// onEachStore runs test once per backend, in parallel, each on a fresh
// store holding partners "pa" and "pb".
func onEachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	teststore.Each(t, func(t *testing.T, st store.Store) {
		for _, id := range []string{"pa", "pb"} {
			if err := st.CreatePartner(t.Context(), store.Partner{ID: id, Name: id, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatalf("create partner %s: %v", id, err)
			}
		}
		test(t, st)
	})
}

// conn is a connection of partner pa serving acme.com.
func conn(jit bool) store.SSOConnection {
	return store.SSOConnection{ID: "c_1", PartnerID: "pa", Name: "Okta", Protocol: "oidc", Enabled: true, Domains: []string{"acme.com"}, JIT: jit}
}

// mapping reads the claims the way a connection's attribute mapping does.
var mapping = preset.Mapping{Email: []string{"email"}, Name: []string{"name"}, Groups: []string{"groups"}}

// signIn is what an IdP asserts, run through the attribute mapping as a
// real sign-in is (so the email is lowercased there).
func signIn(t *testing.T, subject, email, name string, groups ...string) (sso.Claims, sso.Profile) {
	t.Helper()
	c := sso.Claims{Subject: subject, Issuer: "https://idp.example", Attributes: map[string][]string{
		"email": {email}, "name": {name}, "groups": groups,
	}}
	p, err := sso.MapProfile(c, mapping)
	if err != nil {
		t.Fatalf("map profile: %v", err)
	}
	return c, p
}

func addUser(t *testing.T, st store.Store, u store.User) store.User {
	t.Helper()
	if u.ID == "" {
		u.ID = store.NewID("u_")
	}
	if u.PartnerID == "" {
		u.PartnerID = "pa"
	}
	u.CreatedAt, u.UpdatedAt = t0, t0
	if err := st.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create user %s: %v", u.Email, err)
	}
	return getUser(t, st, u.PartnerID, u.ID)
}

func getUser(t *testing.T, st store.Store, partnerID, id string) store.User {
	t.Helper()
	u, err := st.GetUser(t.Context(), partnerID, id)
	if err != nil {
		t.Fatalf("get user %s: %v", id, err)
	}
	return u
}

func addGroup(t *testing.T, st store.Store, partnerID, name, externalID string) store.Group {
	t.Helper()
	g := store.Group{ID: store.NewID("g_"), PartnerID: partnerID, Name: name, ExternalID: externalID, CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateGroup(t.Context(), g); err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	return g
}

func addRole(t *testing.T, st store.Store, g store.Group, role string) {
	t.Helper()
	m := store.RoleMapping{ID: store.NewID("rm_"), PartnerID: g.PartnerID, GroupID: g.ID, Role: role, CreatedAt: t0}
	if err := st.CreateRoleMapping(t.Context(), m); err != nil {
		t.Fatalf("map group %s to %s: %v", g.Name, role, err)
	}
}

func addMembers(t *testing.T, st store.Store, g store.Group, userIDs ...string) {
	t.Helper()
	if err := st.AddGroupMembers(t.Context(), g.PartnerID, g.ID, userIDs); err != nil {
		t.Fatalf("add members to %s: %v", g.Name, err)
	}
}

func addSCIMToken(t *testing.T, st store.Store, partnerID string, expires time.Time) {
	t.Helper()
	tok := store.Token{ID: store.NewID("t_"), PartnerID: partnerID, Kind: store.SCIMToken, Name: "okta", SecretHash: "00", CreatedBy: "test", CreatedAt: t0, ExpiresAt: expires}
	if err := st.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("create SCIM token: %v", err)
	}
}

// users lists every user of the partner.
func users(t *testing.T, st store.Store, partnerID string) []store.User {
	t.Helper()
	us, err := st.ListUsers(t.Context(), partnerID, store.Page{})
	if err != nil {
		t.Fatalf("list users: %v", err)
	}
	return us
}

// wantRefused checks err is a sign-in failure with code.
func wantRefused(t *testing.T, err error, code sso.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("sign-in passed, want refusal %q", code)
	}
	f, ok := errors.AsType[*sso.Failure](err)
	if !ok {
		t.Fatalf("error %v is no *sso.Failure, want code %q", err, code)
	}
	if f.Code != code {
		t.Fatalf("refused with %q (%v), want %q", f.Code, f, code)
	}
}

func mustResolve(t *testing.T, st store.Store, c store.SSOConnection, cl sso.Claims, p sso.Profile, mapsGroups bool) Outcome {
	t.Helper()
	out, err := Resolve(t.Context(), st, c, cl, p, mapsGroups, t0)
	if err != nil {
		t.Fatalf("resolve %s: %v", p.Email, err)
	}
	return out
}

func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func sortedIDs(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

func TestJITCreatesThenFindsAndRefreshesUser(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		cl, p := signIn(t, "sub-1", "Alice@Acme.COM", "Alice Smith")
		out := mustResolve(t, st, conn(true), cl, p, false)
		if !out.Created {
			t.Error("first sign-in: Created = false, want true")
		}
		if out.SCIM {
			t.Error("SCIM = true without a SCIM token")
		}
		all := users(t, st, "pa")
		if len(all) != 1 {
			t.Fatalf("partner has %d users after first sign-in, want 1", len(all))
		}
		u := all[0]
		if u.ID != out.User.ID || u.Email != "alice@acme.com" || u.Name != "Alice Smith" || !u.Active || u.PartnerID != "pa" {
			t.Errorf("created user = %+v, want active alice@acme.com named Alice Smith with id %s", u, out.User.ID)
		}
		if !u.CreatedAt.Equal(t0) {
			t.Errorf("CreatedAt = %v, want %v", u.CreatedAt, t0)
		}

		// Same person again, the IdP renamed her and sends another case.
		cl, p = signIn(t, "sub-1", "ALICE@acme.com", "Alice Jones")
		out2 := mustResolve(t, st, conn(true), cl, p, false)
		if out2.Created {
			t.Error("second sign-in: Created = true, want false")
		}
		if out2.User.ID != u.ID {
			t.Errorf("second sign-in resolved to %s, want %s", out2.User.ID, u.ID)
		}
		if n := len(users(t, st, "pa")); n != 1 {
			t.Fatalf("partner has %d users after second sign-in, want 1 (no duplicate)", n)
		}
		got := getUser(t, st, "pa", u.ID)
		if got.Name != "Alice Jones" || out2.User.Name != "Alice Jones" {
			t.Errorf("name stored %q, returned %q; want the IdP's new name Alice Jones", got.Name, out2.User.Name)
		}
		if got.Email != "alice@acme.com" {
			t.Errorf("email changed to %q, want alice@acme.com kept", got.Email)
		}
	})
}

func TestJITOffRefusesUnknownUser(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		cl, p := signIn(t, "sub-1", "alice@acme.com", "Alice")
		_, err := Resolve(t.Context(), st, conn(false), cl, p, true, t0)
		wantRefused(t, err, sso.UserNotProvisioned)
		if n := len(users(t, st, "pa")); n != 0 {
			t.Errorf("partner has %d users after a refused sign-in, want 0", n)
		}
	})
}

func TestJITOffFindsExistingUserWithoutChangingIt(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		u := addUser(t, st, store.User{Email: "alice@acme.com", Name: "Alice", Active: true})
		cl, p := signIn(t, "sub-1", "alice@acme.com", "Someone Else")
		out := mustResolve(t, st, conn(false), cl, p, false)
		if out.User.ID != u.ID || out.Created {
			t.Errorf("resolved to %s (created %v), want existing %s", out.User.ID, out.Created, u.ID)
		}
		if got := getUser(t, st, "pa", u.ID); got.Name != "Alice" {
			t.Errorf("name = %q without JIT, want Alice unchanged", got.Name)
		}
	})
}

func TestLinkByExternalID(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		t.Run("found despite another email", func(t *testing.T) {
			u := addUser(t, st, store.User{Email: "old.name@acme.com", Name: "Bob", Active: true, ExternalID: "okta-bob"})
			cl, p := signIn(t, "okta-bob", "new.name@acme.com", "Bob")
			out := mustResolve(t, st, conn(true), cl, p, false)
			if out.Created || out.User.ID != u.ID {
				t.Errorf("resolved to %s (created %v), want %s linked by externalId", out.User.ID, out.Created, u.ID)
			}
			if got := getUser(t, st, "pa", u.ID); got.Email != "old.name@acme.com" {
				t.Errorf("email = %q, want old.name@acme.com unchanged", got.Email)
			}
			if _, err := st.GetUserByEmail(t.Context(), "pa", "new.name@acme.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a user new.name@acme.com exists (err %v): a duplicate was created", err)
			}
		})
		t.Run("not linked outside the connection's domains", func(t *testing.T) {
			other := addUser(t, st, store.User{Email: "carol@other.org", Name: "Carol", Active: true, ExternalID: "okta-carol"})
			mine := addUser(t, st, store.User{Email: "carol@acme.com", Name: "Carol", Active: true})
			cl, p := signIn(t, "okta-carol", "carol@acme.com", "Carol")
			out := mustResolve(t, st, conn(true), cl, p, false)
			if out.User.ID != mine.ID {
				t.Errorf("resolved to %s, want %s found by email, not %s of another domain", out.User.ID, mine.ID, other.ID)
			}
		})
		t.Run("outside the domains and no email match creates a user", func(t *testing.T) {
			other := addUser(t, st, store.User{Email: "dave@other.org", Name: "Dave", Active: true, ExternalID: "okta-dave"})
			cl, p := signIn(t, "okta-dave", "dave@acme.com", "Dave")
			out := mustResolve(t, st, conn(true), cl, p, false)
			if !out.Created || out.User.ID == other.ID {
				t.Errorf("resolved to %s (created %v), want a new user, not %s", out.User.ID, out.Created, other.ID)
			}
			if got := getUser(t, st, "pa", other.ID); got.Name != "Dave" || got.Email != "dave@other.org" {
				t.Errorf("other-domain user changed: %+v", got)
			}
		})
	})
}

func TestLinkByEmailPrefersPrimaryAddress(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		// u_a sorts first, so only the primary-address rule picks u_b.
		alt := addUser(t, st, store.User{ID: "u_a", Email: "lee.old@acme.com", Name: "Old Lee", Active: true, AltEmails: []string{"lee@acme.com"}})
		primary := addUser(t, st, store.User{ID: "u_b", Email: "lee@acme.com", Name: "Lee", Active: true})
		cl, p := signIn(t, "sub-lee", "lee@acme.com", "Lee")
		if out := mustResolve(t, st, conn(false), cl, p, false); out.User.ID != primary.ID {
			t.Errorf("resolved to %s, want %s whose primary address it is (not %s's alternate)", out.User.ID, primary.ID, alt.ID)
		}
		// An alternate address alone still finds its user.
		only := addUser(t, st, store.User{Email: "mo@acme.com", Name: "Mo", Active: true, AltEmails: []string{"Mo.Alias@acme.com"}})
		cl, p = signIn(t, "sub-mo", "mo.alias@acme.com", "Mo")
		if out := mustResolve(t, st, conn(true), cl, p, false); out.Created || out.User.ID != only.ID {
			t.Errorf("resolved to %s (created %v), want %s by its alternate address", out.User.ID, out.Created, only.ID)
		}
	})
}

func TestDomainRestriction(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		t.Run("other domain refused, nothing written", func(t *testing.T) {
			cl, p := signIn(t, "sub-evil", "bob@evil.com", "Bob")
			_, err := Resolve(t.Context(), st, conn(true), cl, p, true, t0)
			wantRefused(t, err, sso.DomainNotAllowed)
			if _, err := st.GetUserByEmail(t.Context(), "pa", "bob@evil.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("user bob@evil.com: err %v, want ErrNotFound", err)
			}
		})
		t.Run("existing user of another domain not taken over", func(t *testing.T) {
			u := addUser(t, st, store.User{Email: "eve@evil.com", Name: "Eve", Active: true, ExternalID: "sub-eve"})
			g := addGroup(t, st, "pa", "admins", "")
			cl, p := signIn(t, "sub-eve", "eve@evil.com", "Mallory", "admins")
			_, err := Resolve(t.Context(), st, conn(true), cl, p, true, t0)
			wantRefused(t, err, sso.DomainNotAllowed)
			got := getUser(t, st, "pa", u.ID)
			if got.Name != "Eve" || len(got.Groups) != 0 {
				t.Errorf("refused sign-in changed the user: %+v (group %s)", got, g.ID)
			}
		})
		t.Run("preview refused too", func(t *testing.T) {
			cl, p := signIn(t, "sub-evil", "bob@evil.com", "Bob")
			_, err := Preview(t.Context(), st, conn(true), cl, p, true)
			wantRefused(t, err, sso.DomainNotAllowed)
		})
		t.Run("upper-case domain allowed", func(t *testing.T) {
			// Straight from an IdP, not through MapProfile's lowercasing.
			p := sso.Profile{Email: "Frank@ACME.COM", Name: "Frank", Groups: []string{}}
			out, err := Resolve(t.Context(), st, conn(true), sso.Claims{Subject: "sub-frank"}, p, false, t0)
			if err != nil {
				t.Fatalf("upper-case domain refused: %v", err)
			}
			if !out.Created {
				t.Error("Created = false, want a new user")
			}
		})
		t.Run("no domains serves every domain", func(t *testing.T) {
			c := conn(true)
			c.Domains = nil
			cl, p := signIn(t, "sub-any", "gina@anywhere.net", "Gina")
			if _, err := Resolve(t.Context(), st, c, cl, p, false, t0); err != nil {
				t.Fatalf("connection without domains refused: %v", err)
			}
		})
	})
}

func TestInactiveUserRefused(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		byEmail := addUser(t, st, store.User{Email: "ian@acme.com", Name: "Ian", Active: false})
		byExt := addUser(t, st, store.User{Email: "jo@acme.com", Name: "Jo", Active: false, ExternalID: "okta-jo"})
		g := addGroup(t, st, "pa", "staff", "")
		for _, tc := range []struct {
			name    string
			user    store.User
			subject string
		}{
			{"by email", byEmail, "sub-ian"},
			{"by externalId", byExt, "okta-jo"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, jit := range []bool{true, false} {
					cl, p := signIn(t, tc.subject, tc.user.Email, "New Name", "staff")
					_, err := Resolve(t.Context(), st, conn(jit), cl, p, true, t0)
					wantRefused(t, err, sso.UserInactive)
					_, err = Preview(t.Context(), st, conn(jit), cl, p, true)
					wantRefused(t, err, sso.UserInactive)
				}
				got := getUser(t, st, "pa", tc.user.ID)
				if got.Active || got.Name != tc.user.Name || len(got.Groups) != 0 {
					t.Errorf("refused user changed: active %v, name %q, groups %v (staff is %s)", got.Active, got.Name, got.Groups, g.ID)
				}
			})
		}
		if n := len(users(t, st, "pa")); n != 2 {
			t.Errorf("partner has %d users, want 2 (no replacement created)", n)
		}
	})
}

func TestSCIMOwnsLifecycle(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		addSCIMToken(t, st, "pa", time.Time{})
		eng := addGroup(t, st, "pa", "engineering", "")
		sales := addGroup(t, st, "pa", "sales", "")
		addRole(t, st, sales, "seller")

		t.Run("unknown user not created", func(t *testing.T) {
			cl, p := signIn(t, "sub-gone", "gone@acme.com", "Gone")
			_, err := Resolve(t.Context(), st, conn(true), cl, p, true, t0)
			wantRefused(t, err, sso.UserNotProvisioned)
			_, err = Preview(t.Context(), st, conn(true), cl, p, true)
			wantRefused(t, err, sso.UserNotProvisioned)
			if _, err := st.GetUserByEmail(t.Context(), "pa", "gone@acme.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("user gone@acme.com: err %v, want ErrNotFound", err)
			}
		})
		t.Run("known user's groups and name untouched", func(t *testing.T) {
			u := addUser(t, st, store.User{Email: "kim@acme.com", Name: "Kim", Active: true, ExternalID: "okta-kim"})
			addMembers(t, st, sales, u.ID)
			cl, p := signIn(t, "okta-kim", "kim@acme.com", "Kim Renamed", "engineering")
			out := mustResolve(t, st, conn(true), cl, p, true)
			if !out.SCIM || out.Created || out.User.ID != u.ID {
				t.Errorf("outcome SCIM %v created %v user %s, want SCIM, existing %s", out.SCIM, out.Created, out.User.ID, u.ID)
			}
			got := getUser(t, st, "pa", u.ID)
			sameStrings(t, "stored groups", got.Groups, []string{sales.ID})
			if got.Name != "Kim" {
				t.Errorf("name = %q, want Kim: SCIM owns the profile", got.Name)
			}
			sameStrings(t, "outcome groups", out.Groups, []string{"sales"})
			sameStrings(t, "outcome roles", out.Roles, []string{"seller"})
			if slices.Contains(got.Groups, eng.ID) {
				t.Error("the IdP's engineering group was added although SCIM owns memberships")
			}
		})
	})
}

func TestExpiredSCIMTokenIsSCIMOff(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		addSCIMToken(t, st, "pa", t0.Add(-time.Hour))
		// A SCIM token of another partner does not count either.
		addSCIMToken(t, st, "pb", time.Time{})
		eng := addGroup(t, st, "pa", "engineering", "")
		cl, p := signIn(t, "sub-lee", "lee@acme.com", "Lee", "engineering")
		out := mustResolve(t, st, conn(true), cl, p, true)
		if out.SCIM || !out.Created {
			t.Errorf("outcome SCIM %v created %v, want a JIT user with SCIM off", out.SCIM, out.Created)
		}
		got := getUser(t, st, "pa", out.User.ID)
		sameStrings(t, "stored groups", got.Groups, []string{eng.ID})
	})
}

func TestGroupSync(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		eng := addGroup(t, st, "pa", "Engineering", "")
		ops := addGroup(t, st, "pa", "Operations", "00gOPSext")
		other := addGroup(t, st, "pa", "Finance", "")
		addRole(t, st, eng, "developer")
		addRole(t, st, ops, "operator")
		addRole(t, st, other, "accountant")
		u := addUser(t, st, store.User{Email: "max@acme.com", Name: "Max", Active: true})
		addMembers(t, st, other, u.ID)

		cl, p := signIn(t, "sub-max", "max@acme.com", "Max", "engineering", "00gOPSext", "no-such-group")
		out := mustResolve(t, st, conn(true), cl, p, true)
		sameStrings(t, "stored groups", getUser(t, st, "pa", u.ID).Groups, sortedIDs(eng.ID, ops.ID))
		sameStrings(t, "outcome user groups", out.User.Groups, sortedIDs(eng.ID, ops.ID))
		sameStrings(t, "outcome groups", out.Groups, []string{"Engineering", "Operations"})
		sameStrings(t, "outcome roles", out.Roles, []string{"developer", "operator"})
		for _, g := range []store.Group{eng, ops} {
			members, err := st.ListGroupMembers(t.Context(), "pa", g.ID, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			sameStrings(t, g.Name+" members", members, []string{u.ID})
		}

		// The leaver: the IdP drops Operations.
		cl, p = signIn(t, "sub-max", "max@acme.com", "Max", "engineering")
		out = mustResolve(t, st, conn(true), cl, p, true)
		sameStrings(t, "stored groups after leaving", getUser(t, st, "pa", u.ID).Groups, []string{eng.ID})
		sameStrings(t, "outcome groups after leaving", out.Groups, []string{"Engineering"})
		sameStrings(t, "outcome roles after leaving", out.Roles, []string{"developer"})

		// A connection that maps no groups claim leaves memberships alone.
		addMembers(t, st, ops, u.ID)
		cl, p = signIn(t, "sub-max", "max@acme.com", "Max")
		out = mustResolve(t, st, conn(true), cl, p, false)
		sameStrings(t, "stored groups without mapping", getUser(t, st, "pa", u.ID).Groups, sortedIDs(eng.ID, ops.ID))
		sameStrings(t, "outcome groups without mapping", out.Groups, []string{"Engineering", "Operations"})
		sameStrings(t, "outcome roles without mapping", out.Roles, []string{"developer", "operator"})

		// Mapping groups with the IdP naming none empties them.
		out = mustResolve(t, st, conn(true), cl, p, true)
		sameStrings(t, "stored groups after none", getUser(t, st, "pa", u.ID).Groups, nil)
		if out.Groups == nil || out.Roles == nil || len(out.Groups) != 0 || len(out.Roles) != 0 {
			t.Errorf("outcome groups %#v roles %#v, want empty non-nil", out.Groups, out.Roles)
		}
	})
}

func TestGroupSyncForNewJITUser(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		eng := addGroup(t, st, "pa", "engineering", "")
		addRole(t, st, eng, "developer")
		cl, p := signIn(t, "sub-new", "new@acme.com", "New", "ENGINEERING")
		out := mustResolve(t, st, conn(true), cl, p, true)
		if !out.Created {
			t.Fatal("Created = false, want a new user")
		}
		sameStrings(t, "stored groups", getUser(t, st, "pa", out.User.ID).Groups, []string{eng.ID})
		sameStrings(t, "outcome roles", out.Roles, []string{"developer"})
	})
}

func TestPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		eng := addGroup(t, st, "pa", "engineering", "")
		sales := addGroup(t, st, "pa", "sales", "")
		addRole(t, st, eng, "developer")
		addRole(t, st, sales, "seller")

		t.Run("unknown user", func(t *testing.T) {
			cl, p := signIn(t, "sub-pat", "pat@acme.com", "Pat", "engineering")
			out, err := Preview(t.Context(), st, conn(true), cl, p, true)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			if !out.Created || out.User.Email != "pat@acme.com" {
				t.Errorf("preview created %v user %q, want it would create pat@acme.com", out.Created, out.User.Email)
			}
			sameStrings(t, "preview groups", out.Groups, []string{"engineering"})
			sameStrings(t, "preview roles", out.Roles, []string{"developer"})
			if _, err := st.GetUserByEmail(t.Context(), "pa", "pat@acme.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("preview stored pat@acme.com (err %v)", err)
			}
			members, err := st.ListGroupMembers(t.Context(), "pa", eng.ID, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			sameStrings(t, "engineering members", members, nil)
		})
		t.Run("unknown user without JIT refused", func(t *testing.T) {
			cl, p := signIn(t, "sub-pat", "pat@acme.com", "Pat")
			_, err := Preview(t.Context(), st, conn(false), cl, p, true)
			wantRefused(t, err, sso.UserNotProvisioned)
		})
		t.Run("known user", func(t *testing.T) {
			u := addUser(t, st, store.User{Email: "quinn@acme.com", Name: "Quinn", Active: true})
			addMembers(t, st, sales, u.ID)
			cl, p := signIn(t, "sub-quinn", "quinn@acme.com", "Quinn Renamed", "engineering")
			out, err := Preview(t.Context(), st, conn(true), cl, p, true)
			if err != nil {
				t.Fatalf("preview: %v", err)
			}
			if out.Created || out.User.ID != u.ID {
				t.Errorf("preview created %v user %s, want existing %s", out.Created, out.User.ID, u.ID)
			}
			sameStrings(t, "preview groups", out.Groups, []string{"engineering"})
			sameStrings(t, "preview roles", out.Roles, []string{"developer"})
			got := getUser(t, st, "pa", u.ID)
			sameStrings(t, "stored groups", got.Groups, []string{sales.ID})
			if got.Name != "Quinn" {
				t.Errorf("preview renamed the user to %q", got.Name)
			}
		})
		if n := len(users(t, st, "pa")); n != 1 {
			t.Errorf("partner has %d users after previews, want 1", n)
		}
	})
}

func TestPartnerIsolation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		theirs := addUser(t, st, store.User{PartnerID: "pb", Email: "sam@acme.com", Name: "Sam", Active: true, ExternalID: "okta-sam"})
		gB := addGroup(t, st, "pb", "engineering", "")
		addGroup(t, st, "pa", "engineering", "")

		t.Run("without JIT refused", func(t *testing.T) {
			cl, p := signIn(t, "okta-sam", "sam@acme.com", "Sam")
			_, err := Resolve(t.Context(), st, conn(false), cl, p, true, t0)
			wantRefused(t, err, sso.UserNotProvisioned)
		})
		t.Run("with JIT creates partner A's own", func(t *testing.T) {
			cl, p := signIn(t, "okta-sam", "sam@acme.com", "Sam A", "engineering")
			out := mustResolve(t, st, conn(true), cl, p, true)
			if !out.Created || out.User.ID == theirs.ID || out.User.PartnerID != "pa" {
				t.Errorf("resolved to %s of %s (created %v), want a new user of pa", out.User.ID, out.User.PartnerID, out.Created)
			}
			if _, err := st.GetUser(t.Context(), "pa", out.User.ID); err != nil {
				t.Errorf("new user not in pa: %v", err)
			}
			got := getUser(t, st, "pb", theirs.ID)
			if got.Name != "Sam" || len(got.Groups) != 0 {
				t.Errorf("partner B's user changed: %+v", got)
			}
			members, err := st.ListGroupMembers(t.Context(), "pb", gB.ID, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			sameStrings(t, "partner B's engineering members", members, nil)
		})
		t.Run("inactive user of B does not block A", func(t *testing.T) {
			addUser(t, st, store.User{PartnerID: "pb", Email: "tess@acme.com", Name: "Tess", Active: false})
			cl, p := signIn(t, "sub-tess", "tess@acme.com", "Tess")
			out := mustResolve(t, st, conn(true), cl, p, false)
			if !out.Created || out.User.PartnerID != "pa" {
				t.Errorf("resolved to %+v, want a new user of pa", out.User)
			}
		})
	})
}

// SCIM on for partner B must not switch it on for partner A.
func TestSCIMTokenOfOtherPartnerIgnored(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		addSCIMToken(t, st, "pb", time.Time{})
		cl, p := signIn(t, "sub-uma", "uma@acme.com", "Uma")
		out := mustResolve(t, st, conn(true), cl, p, false)
		if out.SCIM || !out.Created {
			t.Errorf("SCIM %v created %v, want JIT creation for pa", out.SCIM, out.Created)
		}
	})
}

var _ Store = store.Store(nil)

// TestAlternateAddressDoesNotCrossDomains: a user of another domain with
// an alternate address at acme.com is not handed to acme.com's IdP.
func TestAlternateAddressDoesNotCrossDomains(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		boss := addUser(t, st, store.User{Email: "boss@other.org", Name: "Boss", Active: true, AltEmails: []string{"boss@acme.com"}})
		cl, p := signIn(t, "sub-boss", "boss@acme.com", "Not The Boss")
		_, err := Resolve(t.Context(), st, conn(false), cl, p, false, t0)
		wantRefused(t, err, sso.UserNotProvisioned)
		if got := getUser(t, st, "pa", boss.ID); got.Name != "Boss" {
			t.Errorf("the other domain's user was changed: %+v", got)
		}
	})
}

// TestConcurrentFirstSignIns: two tabs finishing a new user's first
// sign-in at once both get in, as one user.
func TestConcurrentFirstSignIns(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		cl, p := signIn(t, "sub-new", "new@acme.com", "New")
		const tabs = 8
		ids := make(chan string, tabs)
		errs := make(chan error, tabs)
		for range tabs {
			go func() {
				out, err := Resolve(t.Context(), st, conn(true), cl, p, false, t0)
				errs <- err
				ids <- out.User.ID
			}()
		}
		seen := map[string]bool{}
		for range tabs {
			if err := <-errs; err != nil {
				t.Errorf("a concurrent first sign-in failed: %v", err)
			}
			seen[<-ids] = true
		}
		if all := users(t, st, "pa"); len(all) != 1 || len(seen) != 1 || !seen[all[0].ID] {
			t.Errorf("users %v, resolved ids %v: want one user for every tab", all, seen)
		}
	})
}

// TestCatchAllConnectionStaysOutOfRoutedDomains: a connection without
// domains (contractors, a social login) can neither sign in as nor create
// a user of a domain the partner's corporate connection routes, by email
// or by externalId; other domains it serves.
func TestCatchAllConnectionStaysOutOfRoutedDomains(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, st store.Store) {
		corporate := conn(true)
		if err := st.CreateSSOConnection(t.Context(), corporate); err != nil {
			t.Fatal(err)
		}
		catchAll := store.SSOConnection{ID: "c_2", PartnerID: "pa", Name: "Contractors", Protocol: "oidc", Enabled: true, JIT: true}
		if err := st.CreateSSOConnection(t.Context(), catchAll); err != nil {
			t.Fatal(err)
		}
		ceo := addUser(t, st, store.User{Email: "ceo@acme.com", Name: "CEO", Active: true, ExternalID: "sub-ceo"})

		cl, p := signIn(t, "sub-x", "ceo@acme.com", "Mallory")
		_, err := Resolve(t.Context(), st, catchAll, cl, p, true, t0)
		wantRefused(t, err, sso.DomainNotAllowed)
		cl, p = signIn(t, "sub-y", "cfo@acme.com", "Mallory")
		_, err = Resolve(t.Context(), st, catchAll, cl, p, true, t0)
		wantRefused(t, err, sso.DomainNotAllowed)
		// The victim's externalId as the subject, with an address of the
		// catch-all's own: a new contractor, never the CEO.
		cl, p = signIn(t, "sub-ceo", "mallory@gmail.com", "Mallory")
		out := mustResolve(t, st, catchAll, cl, p, true)
		if out.User.ID == ceo.ID || !out.Created {
			t.Errorf("the catch-all connection signed in as %s (created %v)", out.User.Email, out.Created)
		}
		if got := getUser(t, st, "pa", ceo.ID); got.Name != "CEO" || len(users(t, st, "pa")) != 2 {
			t.Errorf("the CEO changed or a user of acme.com was made: %+v", users(t, st, "pa"))
		}
		// The corporate connection still signs its own users in.
		cl, p = signIn(t, "sub-ceo", "ceo@acme.com", "CEO")
		if out := mustResolve(t, st, corporate, cl, p, false); out.User.ID != ceo.ID {
			t.Errorf("the corporate connection resolved %s", out.User.Email)
		}
	})
}
