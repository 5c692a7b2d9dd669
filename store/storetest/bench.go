package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

const (
	// BenchPartner is the partner RunUserBenchmarks reads.
	BenchPartner = "bench"
	// BenchUsers is how many users BenchPartner holds: provisioning must
	// serve partners this large without scanning their users.
	BenchUsers = 100_000
	// benchTeam is how many consecutive users share a team address.
	benchTeam = 10
)

// benchProfile is a typical provisioned profile, so records have the size
// they will have in production.
var benchProfile = json.RawMessage(`{"name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Ms. Barbara J Jensen III"},` +
	`"displayName":"Babs Jensen","title":"Tour Guide","preferredLanguage":"en-US","locale":"en-US","timezone":"America/Los_Angeles",` +
	`"phoneNumbers":[{"value":"+1 555 555 5555","type":"work","primary":true}],` +
	`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130",` +
	`"organization":"Universal Studios","division":"Theme Park","department":"Tour Operations"}}`)

// BenchUser returns the i-th user of BenchPartner, for i below BenchUsers.
// Ids sort in the order of i. Each user has an alias address of its own
// and shares a team address with benchTeam-1 others, both among its alt
// emails.
func BenchUser(i int) store.User {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := fmt.Sprintf("u%06d", i)
	return store.User{
		ID:           id,
		PartnerID:    BenchPartner,
		Email:        id + "@example.com",
		Name:         "User " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Active:       true,
		UserName:     fmt.Sprintf("User.%06d", i),
		ExternalID:   fmt.Sprintf("ext-%06d", i),
		AltEmails:    []string{id + ".alias@example.org", benchTeamAddress(i)},
		Profile:      benchProfile,
		CreatedAt:    at,
		UpdatedAt:    at,
	}
}

func benchTeamAddress(i int) string {
	return fmt.Sprintf("team%05d@example.org", i/benchTeam)
}

// RunUserBenchmarks measures the user lookups provisioning relies on, on a
// store whose partner BenchPartner holds BenchUser(i) for every i below
// BenchUsers; each reads the user in the middle:
//
//   - GetUserByUserName, by the user name in another case;
//   - GetUserByExternalID;
//   - FindUsersByEmail by the user's email, by its alias and by its team
//     address, which benchTeam users share;
//   - ListUsers, the page of 100 users after the middle one;
//   - ListUsersAt, the page of 100 users from the middle position, as
//     an unfiltered SCIM list reads it.
func RunUserBenchmarks(b *testing.B, s store.Store) {
	ctx := context.Background()
	mid := BenchUsers / 2
	want := BenchUser(mid)
	if _, err := s.GetUser(ctx, BenchPartner, BenchUser(BenchUsers-1).ID); err != nil {
		b.Fatalf("the store does not hold the benchmark's users: %v", err)
	}

	b.Run("GetUserByUserName", func(b *testing.B) {
		name := strings.ToUpper(want.UserName)
		for b.Loop() {
			if u, err := s.GetUserByUserName(ctx, BenchPartner, name); err != nil || u.ID != want.ID {
				b.Fatalf("get user by user name %q: %q, %v", name, u.ID, err)
			}
		}
	})
	b.Run("GetUserByExternalID", func(b *testing.B) {
		for b.Loop() {
			if u, err := s.GetUserByExternalID(ctx, BenchPartner, want.ExternalID); err != nil || u.ID != want.ID {
				b.Fatalf("get user by external id %q: %q, %v", want.ExternalID, u.ID, err)
			}
		}
	})
	for _, tc := range []struct {
		name, email string
		users       int
	}{
		{"email", want.Email, 1},
		{"alias", want.AltEmails[0], 1},
		{"team", benchTeamAddress(mid), benchTeam},
	} {
		b.Run("FindUsersByEmail/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				if users, err := s.FindUsersByEmail(ctx, BenchPartner, tc.email); err != nil || len(users) != tc.users {
					b.Fatalf("find users by email %q: %d users, %v; want %d", tc.email, len(users), err, tc.users)
				}
			}
		})
	}
	b.Run("ListUsers/after_mid_limit_100", func(b *testing.B) {
		page := store.Page{After: want.ID, Limit: 100}
		for b.Loop() {
			if users, err := s.ListUsers(ctx, BenchPartner, page); err != nil || len(users) != page.Limit || users[0].ID != BenchUser(mid+1).ID {
				b.Fatalf("list users, page %+v: %d users, %v", page, len(users), err)
			}
		}
	})
	b.Run("ListUsersAt/offset_mid_limit_100", func(b *testing.B) {
		for b.Loop() {
			users, total, err := s.ListUsersAt(ctx, BenchPartner, mid, 100)
			if err != nil || total != BenchUsers || len(users) != 100 || users[0].ID != want.ID {
				b.Fatalf("list users at %d: %d users of %d, %v", mid, len(users), total, err)
			}
		}
	})
}
